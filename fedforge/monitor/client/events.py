"""Telemetry events: the contract between the federation, the monitor and the dashboard.

One pydantic model per event type, discriminated by `type`. Every event carries `run_id`, `phase`,
`seq` (per-run, strictly increasing from 0, the de-duplication key with `run_id`) and `ts` (unix seconds).
The dashboard's TypeScript types are generated from the OpenAPI schema these models produce.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

NodeState = Literal["idle", "training", "evaluating", "failed"]
MAX_INT = 2**63 - 1  # SQLite's largest integer: a bigger count is refused here (422 / import error), not at write


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=128, description="Unique id of one phase run")
    phase: str = Field(min_length=1, max_length=64, description="Phase name from params.yaml (A, B, C ...)")
    seq: int = Field(ge=0, le=MAX_INT, description="Per-run sequence number, strictly increasing from 0")
    ts: float = Field(ge=0, description="Unix time in seconds when the event happened")


class GlobalMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acc: float | None = None
    auc: float | None = None
    balanced_acc: float | None = None
    loss: float | None = None


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    dataset: str
    data_source: Literal["synthetic", "medmnist"]
    strategy: str
    num_rounds: int = Field(ge=1, le=MAX_INT)
    start_round: int = Field(default=1, ge=1, le=MAX_INT, description="> 1 when resuming from a checkpoint")
    engine: str
    clients: list[str] = Field(description="Node ids of the participating clients")
    partition_sizes: dict[str, Annotated[int, Field(ge=0, le=MAX_INT)]] = Field(
        default_factory=dict, description="Training examples per client")
    label_histograms: dict[str, list[int]] = Field(default_factory=dict, description="Class counts per client")
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class RoundStarted(_Event):
    type: Literal["round_started"] = "round_started"
    round: int = Field(ge=1, le=MAX_INT)
    clients: list[str] = Field(description="Clients sampled for this round")


class ClientUpdate(_Event):
    type: Literal["client_update"] = "client_update"
    round: int = Field(ge=1, le=MAX_INT)
    client: str
    stage: Literal["train", "evaluate"]
    state: NodeState = Field(description="State the client is in after this update")
    num_examples: int = Field(default=0, ge=0, le=MAX_INT)
    train_loss: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    seconds: float | None = Field(default=None, ge=0, description="Compute time of this step on the client")
    bytes_down: int = Field(default=0, ge=0, le=MAX_INT, description="Bytes sent to the client")
    bytes_up: int = Field(default=0, ge=0, le=MAX_INT, description="Bytes received from the client")


class ClientFailed(_Event):
    type: Literal["client_failed"] = "client_failed"
    round: int = Field(ge=1, le=MAX_INT)
    client: str
    stage: Literal["train", "evaluate"]
    error: str = Field(max_length=4000)


class RoundCompleted(_Event):
    type: Literal["round_completed"] = "round_completed"
    round: int = Field(ge=1, le=MAX_INT)
    metrics: GlobalMetrics = Field(description="Global model on the test split after aggregation")
    train_loss: float | None = Field(default=None, description="Mean client train loss, weighted by examples")
    clients_ok: list[str] = Field(default_factory=list)
    clients_failed: list[str] = Field(default_factory=list)
    num_examples: int = Field(default=0, ge=0, le=MAX_INT)
    seconds: float = Field(ge=0, description="Wall time of the round")
    bytes_down: int = Field(default=0, ge=0, le=MAX_INT)
    bytes_up: int = Field(default=0, ge=0, le=MAX_INT)
    clients_acc_mean: float | None = Field(default=None, description="Unweighted mean over hospitals of the "
                                           "global model's ACC on each hospital's val split")
    clients_acc_worst: float | None = Field(default=None, description="Lowest hospital val ACC")
    clients_balanced_acc_mean: float | None = Field(default=None, description="Unweighted mean hospital val "
                                                    "balanced ACC")
    clients_balanced_acc_worst: float | None = Field(default=None, description="Lowest hospital val balanced ACC")
    epsilon: float | None = Field(default=None, ge=0, description="DP budget spent so far at dp.delta; null without DP")
    client_epsilons: dict[str, float] = Field(default_factory=dict, description="Per-hospital epsilon (dp.mode sample)")


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    status: Literal["completed", "stopped", "failed"]
    rounds_completed: int = Field(ge=0)
    metrics: GlobalMetrics = Field(default_factory=GlobalMetrics)
    error: str | None = Field(default=None, max_length=4000)


class Heartbeat(_Event):
    type: Literal["heartbeat"] = "heartbeat"
    node: str = Field(description="'server' or a client node id")
    state: NodeState = "idle"


Event = Annotated[
    RunStarted | RoundStarted | ClientUpdate | ClientFailed | RoundCompleted | RunFinished | Heartbeat,
    Field(discriminator="type"),
]
EVENT_TYPES = ("run_started", "round_started", "client_update", "client_failed", "round_completed",
               "run_finished", "heartbeat")

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict | str | bytes) -> Event:
    """Validate one event from a dict or a JSON line (events.jsonl replay)."""
    if isinstance(data, (str, bytes)):
        return event_adapter.validate_json(data)
    return event_adapter.validate_python(data)
