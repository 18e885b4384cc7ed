"""Server lifecycle (embedded or configured), database engines and Feast store construction."""
