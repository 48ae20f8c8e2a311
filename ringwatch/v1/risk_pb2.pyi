import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_LOW: _ClassVar[RiskLevel]
    RISK_LEVEL_MEDIUM: _ClassVar[RiskLevel]
    RISK_LEVEL_HIGH: _ClassVar[RiskLevel]
    RISK_LEVEL_CRITICAL: _ClassVar[RiskLevel]

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_OK: _ClassVar[ItemStatus]
    ITEM_STATUS_NOT_FOUND: _ClassVar[ItemStatus]
    ITEM_STATUS_INVALID_ARGUMENT: _ClassVar[ItemStatus]
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_LOW: RiskLevel
RISK_LEVEL_MEDIUM: RiskLevel
RISK_LEVEL_HIGH: RiskLevel
RISK_LEVEL_CRITICAL: RiskLevel
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_OK: ItemStatus
ITEM_STATUS_NOT_FOUND: ItemStatus
ITEM_STATUS_INVALID_ARGUMENT: ItemStatus

class ScoreSet(_message.Message):
    __slots__ = ("score_version", "model_version", "snapshot_version", "scored_at", "warnings")
    SCORE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    score_version: str
    model_version: str
    snapshot_version: str
    scored_at: _timestamp_pb2.Timestamp
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, score_version: _Optional[str] = ..., model_version: _Optional[str] = ..., snapshot_version: _Optional[str] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRiskScoreRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetRiskScoreResponse(_message.Message):
    __slots__ = ("account_id", "risk", "level", "ring_id", "reasons", "score_set")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_SET_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    risk: float
    level: RiskLevel
    ring_id: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    score_set: ScoreSet
    def __init__(self, account_id: _Optional[str] = ..., risk: _Optional[float] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., ring_id: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., score_set: _Optional[_Union[ScoreSet, _Mapping]] = ...) -> None: ...

class BatchGetRiskScoresRequest(_message.Message):
    __slots__ = ("account_ids", "include_ring_ids")
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RING_IDS_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    include_ring_ids: bool
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., include_ring_ids: _Optional[bool] = ...) -> None: ...

class BatchGetRiskScoresResponse(_message.Message):
    __slots__ = ("statuses", "risks", "levels", "ring_ids", "score_set", "found", "not_found", "invalid")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    RISKS_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    RING_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_SET_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[ItemStatus]
    risks: _containers.RepeatedScalarFieldContainer[float]
    levels: _containers.RepeatedScalarFieldContainer[RiskLevel]
    ring_ids: _containers.RepeatedScalarFieldContainer[str]
    score_set: ScoreSet
    found: int
    not_found: int
    invalid: int
    def __init__(self, statuses: _Optional[_Iterable[_Union[ItemStatus, str]]] = ..., risks: _Optional[_Iterable[float]] = ..., levels: _Optional[_Iterable[_Union[RiskLevel, str]]] = ..., ring_ids: _Optional[_Iterable[str]] = ..., score_set: _Optional[_Union[ScoreSet, _Mapping]] = ..., found: _Optional[int] = ..., not_found: _Optional[int] = ..., invalid: _Optional[int] = ...) -> None: ...

class ExplainRiskScoreRequest(_message.Message):
    __slots__ = ("account_id", "max_neighbors")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_NEIGHBORS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    max_neighbors: int
    def __init__(self, account_id: _Optional[str] = ..., max_neighbors: _Optional[int] = ...) -> None: ...

class Neighbor(_message.Message):
    __slots__ = ("account_id", "relation", "weight", "risk", "level")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    relation: str
    weight: float
    risk: float
    level: RiskLevel
    def __init__(self, account_id: _Optional[str] = ..., relation: _Optional[str] = ..., weight: _Optional[float] = ..., risk: _Optional[float] = ..., level: _Optional[_Union[RiskLevel, str]] = ...) -> None: ...

class ExplainRiskScoreResponse(_message.Message):
    __slots__ = ("account_id", "risk", "level", "reasons", "top_neighbors", "ring", "score_set")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    TOP_NEIGHBORS_FIELD_NUMBER: _ClassVar[int]
    RING_FIELD_NUMBER: _ClassVar[int]
    SCORE_SET_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    risk: float
    level: RiskLevel
    reasons: _containers.RepeatedScalarFieldContainer[str]
    top_neighbors: _containers.RepeatedCompositeFieldContainer[Neighbor]
    ring: Ring
    score_set: ScoreSet
    def __init__(self, account_id: _Optional[str] = ..., risk: _Optional[float] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., top_neighbors: _Optional[_Iterable[_Union[Neighbor, _Mapping]]] = ..., ring: _Optional[_Union[Ring, _Mapping]] = ..., score_set: _Optional[_Union[ScoreSet, _Mapping]] = ...) -> None: ...

class Ring(_message.Message):
    __slots__ = ("ring_id", "size", "density", "mean_risk", "ring_score", "synchrony", "related")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DENSITY_FIELD_NUMBER: _ClassVar[int]
    MEAN_RISK_FIELD_NUMBER: _ClassVar[int]
    RING_SCORE_FIELD_NUMBER: _ClassVar[int]
    SYNCHRONY_FIELD_NUMBER: _ClassVar[int]
    RELATED_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    size: int
    density: float
    mean_risk: float
    ring_score: float
    synchrony: float
    related: _containers.RepeatedCompositeFieldContainer[RelatedRing]
    def __init__(self, ring_id: _Optional[str] = ..., size: _Optional[int] = ..., density: _Optional[float] = ..., mean_risk: _Optional[float] = ..., ring_score: _Optional[float] = ..., synchrony: _Optional[float] = ..., related: _Optional[_Iterable[_Union[RelatedRing, _Mapping]]] = ...) -> None: ...

class RelatedRing(_message.Message):
    __slots__ = ("ring_id", "links")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    links: int
    def __init__(self, ring_id: _Optional[str] = ..., links: _Optional[int] = ...) -> None: ...

class GetRingRequest(_message.Message):
    __slots__ = ("ring_id", "max_members", "score_version")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    SCORE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    max_members: int
    score_version: str
    def __init__(self, ring_id: _Optional[str] = ..., max_members: _Optional[int] = ..., score_version: _Optional[str] = ...) -> None: ...

class GetRingResponse(_message.Message):
    __slots__ = ("ring", "member_ids", "member_risks", "member_levels", "score_set")
    RING_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_RISKS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_LEVELS_FIELD_NUMBER: _ClassVar[int]
    SCORE_SET_FIELD_NUMBER: _ClassVar[int]
    ring: Ring
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    member_risks: _containers.RepeatedScalarFieldContainer[float]
    member_levels: _containers.RepeatedScalarFieldContainer[RiskLevel]
    score_set: ScoreSet
    def __init__(self, ring: _Optional[_Union[Ring, _Mapping]] = ..., member_ids: _Optional[_Iterable[str]] = ..., member_risks: _Optional[_Iterable[float]] = ..., member_levels: _Optional[_Iterable[_Union[RiskLevel, str]]] = ..., score_set: _Optional[_Union[ScoreSet, _Mapping]] = ...) -> None: ...

class WatchRiskScoresRequest(_message.Message):
    __slots__ = ("account_ids", "min_level")
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    min_level: RiskLevel
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., min_level: _Optional[_Union[RiskLevel, str]] = ...) -> None: ...

class RiskLevelChange(_message.Message):
    __slots__ = ("account_id", "previous_level", "level", "previous_risk", "risk", "score_set", "previous_score_version")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RISK_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    SCORE_SET_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SCORE_VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    previous_level: RiskLevel
    level: RiskLevel
    previous_risk: float
    risk: float
    score_set: ScoreSet
    previous_score_version: str
    def __init__(self, account_id: _Optional[str] = ..., previous_level: _Optional[_Union[RiskLevel, str]] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., previous_risk: _Optional[float] = ..., risk: _Optional[float] = ..., score_set: _Optional[_Union[ScoreSet, _Mapping]] = ..., previous_score_version: _Optional[str] = ...) -> None: ...
