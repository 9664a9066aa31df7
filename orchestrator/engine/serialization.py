"""Saga state to and from plain JSON-compatible dicts (for a JSONB column)."""

from datetime import datetime
from typing import Any

from orchestrator.engine.core import SagaState, SagaStatus, StepState, StepStatus


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def state_to_dict(state: SagaState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "reason": state.reason,
        "steps": [
            {
                "name": s.name,
                "status": s.status.value,
                "started_at": _time(s.started_at),
                "finished_at": _time(s.finished_at),
                "deadline": _time(s.deadline),
                "attempts": s.attempts,
                "detail": s.detail,
            }
            for s in state.steps
        ],
    }


def state_from_dict(data: dict[str, Any]) -> SagaState:
    return SagaState(
        status=SagaStatus(data["status"]),
        reason=data.get("reason", ""),
        steps=tuple(
            StepState(
                name=s["name"],
                status=StepStatus(s["status"]),
                started_at=_parse_time(s["started_at"]),
                finished_at=_parse_time(s["finished_at"]),
                deadline=_parse_time(s["deadline"]),
                attempts=int(s["attempts"]),
                detail=s.get("detail", ""),
            )
            for s in data["steps"]
        ),
    )
