"""Event ingestion between the API and the online features: the API stores events and announces
the users they changed on a stream; feature-update workers consume it and push fresh features."""
