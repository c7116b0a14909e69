"""Request and response models of the monitor API: the OpenAPI schema the dashboard's TypeScript comes from."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fedforge.monitor.client.events import Event, GlobalMetrics, NodeState
from fedforge.monitor.server.core.settings import MAX_EVENTS_PER_REQUEST

RunState = Literal["running", "paused", "stopped", "completed", "failed"]
Liveness = Literal["online", "stale", "lost"]
ControlVerb = Literal["start", "pause", "resume", "stop"]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class Message(BaseModel):
    detail: str = Field(description="What went wrong and what to do about it")


class EventBatch(BaseModel):
    events: list[Event] = Field(max_length=MAX_EVENTS_PER_REQUEST,
                                description=f"At most {MAX_EVENTS_PER_REQUEST} events; body at most 1 MiB")


class IngestResult(BaseModel):
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events already stored (same run_id and seq), ignored")


class RunSummary(BaseModel):
    run_id: str
    phase: str
    dataset: str | None = None
    data_source: str | None = None
    strategy: str | None = None
    engine: str | None = None
    state: RunState
    current_round: int = 0
    num_rounds: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_event_ts: float | None = None
    metrics: GlobalMetrics = Field(default_factory=GlobalMetrics, description="Latest global test metrics")
    error: str | None = None


class RoundRow(BaseModel):
    round: int
    acc: float | None = None
    auc: float | None = None
    balanced_acc: float | None = None
    loss: float | None = None
    train_loss: float | None = None
    clients_ok: list[str] = Field(default_factory=list)
    clients_failed: list[str] = Field(default_factory=list)
    num_examples: int = 0
    seconds: float | None = None
    bytes_down: int = 0
    bytes_up: int = 0
    client_train_loss: dict[str, float] = Field(default_factory=dict)
    epsilon: float | None = Field(default=None, description="DP budget spent after this round; null without DP")
    client_epsilons: dict[str, float] = Field(default_factory=dict, description="Per-hospital epsilon (DP-SGD)")
    clients_sampled: list[str] | None = Field(default=None, description="Clients sampled for this round "
                                              "(its round_started); null until that event arrived")
    started_at: float | None = None
    completed_at: float | None = None


class NodeHistoryItem(BaseModel):
    round: int
    stage: Literal["train", "evaluate"]
    ok: bool = True
    num_examples: int = 0
    train_loss: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None


class NodeInfo(BaseModel):
    node_id: str = Field(description='"server" or "client_<i>"')
    kind: Literal["server", "client"]
    state: NodeState
    liveness: Liveness = Field(description="By age of the last event about the node: online < stale < lost; "
                               "for a finished run (completed, stopped, failed) the age at the run's end")
    last_seen: float | None = None
    partition_size: int | None = None
    label_histogram: list[int] = Field(default_factory=list)
    failures: int = 0
    last_error: str | None = None
    history: list[NodeHistoryItem] = Field(default_factory=list)


class RunDetail(RunSummary):
    rounds: list[RoundRow] = Field(default_factory=list)
    nodes: list[NodeInfo] = Field(default_factory=list)


class RunStateOut(BaseModel):
    run_id: str
    state: RunState


class ControlResult(BaseModel):
    run_id: str
    previous: RunState
    state: RunState


class AuditEntry(BaseModel):
    ts: float
    run_id: str
    action: ControlVerb
    origin: str = Field(description="Client address and user agent of the request")
    previous: RunState
    state: RunState
    accepted: bool = Field(description="False when the transition was refused (409)")


class PhaseInfo(BaseModel):
    phase: str
    dataset: str
    strategy: str
    rounds: int
    latest_run_id: str | None = None
    latest_state: RunState | None = None
    launched: bool = Field(description="A process started by the monitor for this phase is running")


class PhaseLaunch(BaseModel):
    phase: str
    pid: int
    command: list[str]
    started_at: float
    log_path: str


class PrivacyReport(BaseModel):
    """metrics.json `privacy` block of a DP phase (fedforge/fl/privacy.py)."""

    mode: str
    epsilon: float | None = None
    delta: float | None = None
    noise_multiplier: float | None = None
    clipping_norm: float | None = None
    max_epsilon: float | None = None
    budget_stopped: bool = False


class ComparisonEntry(BaseModel):
    kind: Literal["federated", "centralized"]
    name: str = Field(description="Phase name (federated) or dataset (centralized)")
    dataset: str | None = None
    strategy: str | None = None
    data_source: str | None = None
    rounds: int | None = None
    test: GlobalMetrics = Field(default_factory=GlobalMetrics)
    val: GlobalMetrics = Field(default_factory=GlobalMetrics)
    privacy: PrivacyReport | None = Field(default=None, description="DP budget of the phase; null without DP")
    path: str


class Comparison(BaseModel):
    federated: list[ComparisonEntry] = Field(default_factory=list)
    centralized: list[ComparisonEntry] = Field(default_factory=list)
