from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from api.deps import AdminKey, ReadKey
from api.schemas import MAX_ID, ModelInfo
from recsys.training.registry import (
    UnservableModelError,
    activate,
    list_models,
)

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=list[ModelInfo], dependencies=[ReadKey])
def models(request: Request) -> list[ModelInfo]:
    """Every registered model version, newest first."""
    return [ModelInfo.model_validate(m) for m in list_models(request.app.state.engine)]


@router.post("/{version}/activate", response_model=ModelInfo, dependencies=[AdminKey])
def activate_model(request: Request, version: Annotated[int, Path(ge=1, le=MAX_ID)]) -> ModelInfo:
    """Make a version the active one (admin: X-API-Key). Its artifact is checked first: a
    corrupt or missing one is refused (409) and the current version keeps serving."""
    try:
        m = activate(request.app.state.engine, version)
    except UnservableModelError as exc:
        raise HTTPException(409, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(404, f"version: {exc}") from exc
    return ModelInfo.model_validate(m)
