import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATE_UNSPECIFIED: _ClassVar[MemberState]
    MEMBER_STATE_ALIVE: _ClassVar[MemberState]
    MEMBER_STATE_SUSPECT: _ClassVar[MemberState]
    MEMBER_STATE_DEAD: _ClassVar[MemberState]
    MEMBER_STATE_LEFT: _ClassVar[MemberState]

class Durability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DURABILITY_UNSPECIFIED: _ClassVar[Durability]
    DURABILITY_SYNC: _ClassVar[Durability]
    DURABILITY_BUFFERED: _ClassVar[Durability]

class ResolverMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOLVER_MODE_UNSPECIFIED: _ClassVar[ResolverMode]
    RESOLVER_MODE_CLIENT: _ClassVar[ResolverMode]
    RESOLVER_MODE_ON_READ: _ClassVar[ResolverMode]
    RESOLVER_MODE_ON_WRITE: _ClassVar[ResolverMode]

class TokenScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_SCOPE_UNSPECIFIED: _ClassVar[TokenScope]
    TOKEN_SCOPE_READ: _ClassVar[TokenScope]
    TOKEN_SCOPE_WRITE: _ClassVar[TokenScope]
    TOKEN_SCOPE_ADMIN: _ClassVar[TokenScope]
MEMBER_STATE_UNSPECIFIED: MemberState
MEMBER_STATE_ALIVE: MemberState
MEMBER_STATE_SUSPECT: MemberState
MEMBER_STATE_DEAD: MemberState
MEMBER_STATE_LEFT: MemberState
DURABILITY_UNSPECIFIED: Durability
DURABILITY_SYNC: Durability
DURABILITY_BUFFERED: Durability
RESOLVER_MODE_UNSPECIFIED: ResolverMode
RESOLVER_MODE_CLIENT: ResolverMode
RESOLVER_MODE_ON_READ: ResolverMode
RESOLVER_MODE_ON_WRITE: ResolverMode
TOKEN_SCOPE_UNSPECIFIED: TokenScope
TOKEN_SCOPE_READ: TokenScope
TOKEN_SCOPE_WRITE: TokenScope
TOKEN_SCOPE_ADMIN: TokenScope

class Member(_message.Message):
    __slots__ = ("id", "zone", "api_addr", "peer_addr", "state", "partitions", "in_ring")
    ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    API_ADDR_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    IN_RING_FIELD_NUMBER: _ClassVar[int]
    id: str
    zone: str
    api_addr: str
    peer_addr: str
    state: MemberState
    partitions: int
    in_ring: bool
    def __init__(self, id: _Optional[str] = ..., zone: _Optional[str] = ..., api_addr: _Optional[str] = ..., peer_addr: _Optional[str] = ..., state: _Optional[_Union[MemberState, str]] = ..., partitions: _Optional[int] = ..., in_ring: _Optional[bool] = ...) -> None: ...

class StagedChange(_message.Message):
    __slots__ = ("kind", "node_id")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[StagedChange.Kind]
        KIND_JOIN: _ClassVar[StagedChange.Kind]
        KIND_LEAVE: _ClassVar[StagedChange.Kind]
    KIND_UNSPECIFIED: StagedChange.Kind
    KIND_JOIN: StagedChange.Kind
    KIND_LEAVE: StagedChange.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    kind: StagedChange.Kind
    node_id: str
    def __init__(self, kind: _Optional[_Union[StagedChange.Kind, str]] = ..., node_id: _Optional[str] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("partition", "to")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    partition: int
    to: str
    def __init__(self, partition: _Optional[int] = ..., to: _Optional[str] = ..., **kwargs) -> None: ...

class HandoffProgress(_message.Message):
    __slots__ = ("partition", "to", "keys", "bytes", "rate", "eta_seconds", "done", "remaining_bytes")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_BYTES_FIELD_NUMBER: _ClassVar[int]
    partition: int
    to: str
    keys: int
    bytes: int
    rate: float
    eta_seconds: float
    done: bool
    remaining_bytes: int
    def __init__(self, partition: _Optional[int] = ..., to: _Optional[str] = ..., keys: _Optional[int] = ..., bytes: _Optional[int] = ..., rate: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., done: _Optional[bool] = ..., remaining_bytes: _Optional[int] = ..., **kwargs) -> None: ...

class ClusterStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterStatusResponse(_message.Message):
    __slots__ = ("ring_epoch", "partitions", "members", "staged", "handoffs")
    RING_EPOCH_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    STAGED_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_FIELD_NUMBER: _ClassVar[int]
    ring_epoch: int
    partitions: int
    members: _containers.RepeatedCompositeFieldContainer[Member]
    staged: _containers.RepeatedCompositeFieldContainer[StagedChange]
    handoffs: _containers.RepeatedCompositeFieldContainer[HandoffProgress]
    def __init__(self, ring_epoch: _Optional[int] = ..., partitions: _Optional[int] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., staged: _Optional[_Iterable[_Union[StagedChange, _Mapping]]] = ..., handoffs: _Optional[_Iterable[_Union[HandoffProgress, _Mapping]]] = ...) -> None: ...

class StageJoinRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class StageJoinResponse(_message.Message):
    __slots__ = ("staged",)
    STAGED_FIELD_NUMBER: _ClassVar[int]
    staged: _containers.RepeatedCompositeFieldContainer[StagedChange]
    def __init__(self, staged: _Optional[_Iterable[_Union[StagedChange, _Mapping]]] = ...) -> None: ...

class StageLeaveRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class StageLeaveResponse(_message.Message):
    __slots__ = ("staged",)
    STAGED_FIELD_NUMBER: _ClassVar[int]
    staged: _containers.RepeatedCompositeFieldContainer[StagedChange]
    def __init__(self, staged: _Optional[_Iterable[_Union[StagedChange, _Mapping]]] = ...) -> None: ...

class PlanChangesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlanChangesResponse(_message.Message):
    __slots__ = ("staged", "transfers", "partitions_after", "next_epoch")
    class PartitionsAfterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STAGED_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_AFTER_FIELD_NUMBER: _ClassVar[int]
    NEXT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    staged: _containers.RepeatedCompositeFieldContainer[StagedChange]
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    partitions_after: _containers.ScalarMap[str, int]
    next_epoch: int
    def __init__(self, staged: _Optional[_Iterable[_Union[StagedChange, _Mapping]]] = ..., transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., partitions_after: _Optional[_Mapping[str, int]] = ..., next_epoch: _Optional[int] = ...) -> None: ...

class CommitChangesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CommitChangesResponse(_message.Message):
    __slots__ = ("ring_epoch", "transfers")
    RING_EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    ring_epoch: int
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    def __init__(self, ring_epoch: _Optional[int] = ..., transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ...) -> None: ...

class ClearChangesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClearChangesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchHandoffRequest(_message.Message):
    __slots__ = ("follow",)
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    follow: bool
    def __init__(self, follow: _Optional[bool] = ...) -> None: ...

class WatchHandoffResponse(_message.Message):
    __slots__ = ("ring_epoch", "handoffs", "complete")
    RING_EPOCH_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ring_epoch: int
    handoffs: _containers.RepeatedCompositeFieldContainer[HandoffProgress]
    complete: bool
    def __init__(self, ring_epoch: _Optional[int] = ..., handoffs: _Optional[_Iterable[_Union[HandoffProgress, _Mapping]]] = ..., complete: _Optional[bool] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_value_bytes", "max_key_bytes", "max_siblings", "reads_per_second", "writes_per_second", "max_stored_bytes", "max_keys", "resolver_cpu_ms_per_second", "resolver_concurrency", "write_bytes_per_second")
    MAX_VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_KEY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    READS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    WRITES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_CPU_MS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    WRITE_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    max_value_bytes: int
    max_key_bytes: int
    max_siblings: int
    reads_per_second: int
    writes_per_second: int
    max_stored_bytes: int
    max_keys: int
    resolver_cpu_ms_per_second: int
    resolver_concurrency: int
    write_bytes_per_second: int
    def __init__(self, max_value_bytes: _Optional[int] = ..., max_key_bytes: _Optional[int] = ..., max_siblings: _Optional[int] = ..., reads_per_second: _Optional[int] = ..., writes_per_second: _Optional[int] = ..., max_stored_bytes: _Optional[int] = ..., max_keys: _Optional[int] = ..., resolver_cpu_ms_per_second: _Optional[int] = ..., resolver_concurrency: _Optional[int] = ..., write_bytes_per_second: _Optional[int] = ...) -> None: ...

class Namespace(_message.Message):
    __slots__ = ("name", "n", "r", "w", "dw", "durability", "limits", "created_at", "resolver")
    NAME_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    R_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    DW_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_FIELD_NUMBER: _ClassVar[int]
    name: str
    n: int
    r: int
    w: int
    dw: int
    durability: Durability
    limits: Limits
    created_at: _timestamp_pb2.Timestamp
    resolver: Resolver
    def __init__(self, name: _Optional[str] = ..., n: _Optional[int] = ..., r: _Optional[int] = ..., w: _Optional[int] = ..., dw: _Optional[int] = ..., durability: _Optional[_Union[Durability, str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolver: _Optional[_Union[Resolver, _Mapping]] = ...) -> None: ...

class Resolver(_message.Message):
    __slots__ = ("name", "module_sha256", "mode", "config", "write_deadline_ms", "read_deadline_ms", "memory_pages", "module_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODULE_SHA256_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    WRITE_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    READ_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PAGES_FIELD_NUMBER: _ClassVar[int]
    MODULE_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    module_sha256: str
    mode: ResolverMode
    config: bytes
    write_deadline_ms: int
    read_deadline_ms: int
    memory_pages: int
    module_bytes: int
    def __init__(self, name: _Optional[str] = ..., module_sha256: _Optional[str] = ..., mode: _Optional[_Union[ResolverMode, str]] = ..., config: _Optional[bytes] = ..., write_deadline_ms: _Optional[int] = ..., read_deadline_ms: _Optional[int] = ..., memory_pages: _Optional[int] = ..., module_bytes: _Optional[int] = ...) -> None: ...

class LawReport(_message.Message):
    __slots__ = ("passed", "violations", "checked", "refused", "text")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    passed: _containers.RepeatedScalarFieldContainer[str]
    violations: _containers.RepeatedCompositeFieldContainer[LawViolation]
    checked: int
    refused: bool
    text: str
    def __init__(self, passed: _Optional[_Iterable[str]] = ..., violations: _Optional[_Iterable[_Union[LawViolation, _Mapping]]] = ..., checked: _Optional[int] = ..., refused: _Optional[bool] = ..., text: _Optional[str] = ...) -> None: ...

class LawViolation(_message.Message):
    __slots__ = ("law", "input", "tombstones", "got", "want", "detail")
    LAW_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    GOT_FIELD_NUMBER: _ClassVar[int]
    WANT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    law: str
    input: _containers.RepeatedScalarFieldContainer[bytes]
    tombstones: _containers.RepeatedScalarFieldContainer[bool]
    got: bytes
    want: bytes
    detail: str
    def __init__(self, law: _Optional[str] = ..., input: _Optional[_Iterable[bytes]] = ..., tombstones: _Optional[_Iterable[bool]] = ..., got: _Optional[bytes] = ..., want: _Optional[bytes] = ..., detail: _Optional[str] = ...) -> None: ...

class UploadResolverRequest(_message.Message):
    __slots__ = ("namespace", "module", "builtin", "mode", "config", "samples", "write_deadline_ms", "read_deadline_ms", "memory_pages", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    WRITE_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    READ_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PAGES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    module: bytes
    builtin: str
    mode: ResolverMode
    config: bytes
    samples: _containers.RepeatedScalarFieldContainer[bytes]
    write_deadline_ms: int
    read_deadline_ms: int
    memory_pages: int
    name: str
    def __init__(self, namespace: _Optional[str] = ..., module: _Optional[bytes] = ..., builtin: _Optional[str] = ..., mode: _Optional[_Union[ResolverMode, str]] = ..., config: _Optional[bytes] = ..., samples: _Optional[_Iterable[bytes]] = ..., write_deadline_ms: _Optional[int] = ..., read_deadline_ms: _Optional[int] = ..., memory_pages: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class UploadResolverResponse(_message.Message):
    __slots__ = ("namespace", "report")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    report: LawReport
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ..., report: _Optional[_Union[LawReport, _Mapping]] = ...) -> None: ...

class TestResolverRequest(_message.Message):
    __slots__ = ("module", "builtin", "config", "samples")
    MODULE_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    module: bytes
    builtin: str
    config: bytes
    samples: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, module: _Optional[bytes] = ..., builtin: _Optional[str] = ..., config: _Optional[bytes] = ..., samples: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TestResolverResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: LawReport
    def __init__(self, report: _Optional[_Union[LawReport, _Mapping]] = ...) -> None: ...

class ListResolversRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NamespaceResolver(_message.Message):
    __slots__ = ("namespace", "resolver", "calls", "failures", "breaker")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    resolver: Resolver
    calls: int
    failures: int
    breaker: str
    def __init__(self, namespace: _Optional[str] = ..., resolver: _Optional[_Union[Resolver, _Mapping]] = ..., calls: _Optional[int] = ..., failures: _Optional[int] = ..., breaker: _Optional[str] = ...) -> None: ...

class ListResolversResponse(_message.Message):
    __slots__ = ("resolvers",)
    RESOLVERS_FIELD_NUMBER: _ClassVar[int]
    resolvers: _containers.RepeatedCompositeFieldContainer[NamespaceResolver]
    def __init__(self, resolvers: _Optional[_Iterable[_Union[NamespaceResolver, _Mapping]]] = ...) -> None: ...

class DeleteResolverRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class DeleteResolverResponse(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ...) -> None: ...

class NamespaceSettings(_message.Message):
    __slots__ = ("n", "r", "w", "dw", "durability", "limits")
    N_FIELD_NUMBER: _ClassVar[int]
    R_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    DW_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    n: int
    r: int
    w: int
    dw: int
    durability: Durability
    limits: Limits
    def __init__(self, n: _Optional[int] = ..., r: _Optional[int] = ..., w: _Optional[int] = ..., dw: _Optional[int] = ..., durability: _Optional[_Union[Durability, str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...

class CreateNamespaceRequest(_message.Message):
    __slots__ = ("name", "settings")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    settings: NamespaceSettings
    def __init__(self, name: _Optional[str] = ..., settings: _Optional[_Union[NamespaceSettings, _Mapping]] = ...) -> None: ...

class CreateNamespaceResponse(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ...) -> None: ...

class GetNamespaceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetNamespaceResponse(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ...) -> None: ...

class ListNamespacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("namespaces",)
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[Namespace]
    def __init__(self, namespaces: _Optional[_Iterable[_Union[Namespace, _Mapping]]] = ...) -> None: ...

class UpdateNamespaceRequest(_message.Message):
    __slots__ = ("name", "settings", "update_mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    settings: NamespaceSettings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, name: _Optional[str] = ..., settings: _Optional[_Union[NamespaceSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateNamespaceResponse(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ...) -> None: ...

class DeleteNamespaceRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteNamespaceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Token(_message.Message):
    __slots__ = ("id", "namespace", "scopes", "created_at", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    namespace: str
    scopes: _containers.RepeatedScalarFieldContainer[TokenScope]
    created_at: _timestamp_pb2.Timestamp
    description: str
    def __init__(self, id: _Optional[str] = ..., namespace: _Optional[str] = ..., scopes: _Optional[_Iterable[_Union[TokenScope, str]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("namespace", "scopes", "description")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    scopes: _containers.RepeatedScalarFieldContainer[TokenScope]
    description: str
    def __init__(self, namespace: _Optional[str] = ..., scopes: _Optional[_Iterable[_Union[TokenScope, str]]] = ..., description: _Optional[str] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: Token
    secret: str
    def __init__(self, token: _Optional[_Union[Token, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateAdminCredentialRequest(_message.Message):
    __slots__ = ("new_credential",)
    NEW_CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    new_credential: str
    def __init__(self, new_credential: _Optional[str] = ...) -> None: ...

class RotateAdminCredentialResponse(_message.Message):
    __slots__ = ("credential", "version")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    credential: str
    version: int
    def __init__(self, credential: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetNamespaceStatsRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("name", "count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class OperationStats(_message.Message):
    __slots__ = ("operation", "requests", "errors", "p50_ms", "p99_ms", "p999_ms")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    P999_MS_FIELD_NUMBER: _ClassVar[int]
    operation: str
    requests: int
    errors: _containers.RepeatedCompositeFieldContainer[Count]
    p50_ms: float
    p99_ms: float
    p999_ms: float
    def __init__(self, operation: _Optional[str] = ..., requests: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., p50_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., p999_ms: _Optional[float] = ...) -> None: ...

class ResolverStats(_message.Message):
    __slots__ = ("calls", "failures", "cpu_ms", "p99_ms", "breaker")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    CPU_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    calls: int
    failures: _containers.RepeatedCompositeFieldContainer[Count]
    cpu_ms: float
    p99_ms: float
    breaker: str
    def __init__(self, calls: _Optional[int] = ..., failures: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., cpu_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., breaker: _Optional[str] = ...) -> None: ...

class NamespaceStats(_message.Message):
    __slots__ = ("node", "operations", "reads_by_versions", "resolver", "rejections", "hints", "keys_repaired", "stored_keys", "stored_bytes")
    NODE_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    READS_BY_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    KEYS_REPAIRED_FIELD_NUMBER: _ClassVar[int]
    STORED_KEYS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    node: str
    operations: _containers.RepeatedCompositeFieldContainer[OperationStats]
    reads_by_versions: _containers.RepeatedScalarFieldContainer[int]
    resolver: ResolverStats
    rejections: _containers.RepeatedCompositeFieldContainer[Count]
    hints: int
    keys_repaired: int
    stored_keys: int
    stored_bytes: int
    def __init__(self, node: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[OperationStats, _Mapping]]] = ..., reads_by_versions: _Optional[_Iterable[int]] = ..., resolver: _Optional[_Union[ResolverStats, _Mapping]] = ..., rejections: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., hints: _Optional[int] = ..., keys_repaired: _Optional[int] = ..., stored_keys: _Optional[int] = ..., stored_bytes: _Optional[int] = ...) -> None: ...

class GetNamespaceStatsResponse(_message.Message):
    __slots__ = ("total", "nodes", "missing")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    total: NamespaceStats
    nodes: _containers.RepeatedCompositeFieldContainer[NamespaceStats]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, total: _Optional[_Union[NamespaceStats, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[NamespaceStats, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class ClusterSettings(_message.Message):
    __slots__ = ("max_namespaces", "max_resolver_memory_pages", "max_resolver_deadline_ms", "max_namespace_ops_per_second", "resolver_cpu_ms_per_second", "handoff_objects_per_second", "hints_per_second", "aae_keys_per_second")
    MAX_NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOLVER_MEMORY_PAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOLVER_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_NAMESPACE_OPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_CPU_MS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_OBJECTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    HINTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    AAE_KEYS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    max_namespaces: int
    max_resolver_memory_pages: int
    max_resolver_deadline_ms: int
    max_namespace_ops_per_second: int
    resolver_cpu_ms_per_second: int
    handoff_objects_per_second: int
    hints_per_second: int
    aae_keys_per_second: int
    def __init__(self, max_namespaces: _Optional[int] = ..., max_resolver_memory_pages: _Optional[int] = ..., max_resolver_deadline_ms: _Optional[int] = ..., max_namespace_ops_per_second: _Optional[int] = ..., resolver_cpu_ms_per_second: _Optional[int] = ..., handoff_objects_per_second: _Optional[int] = ..., hints_per_second: _Optional[int] = ..., aae_keys_per_second: _Optional[int] = ...) -> None: ...

class GetClusterSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClusterSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: ClusterSettings
    def __init__(self, settings: _Optional[_Union[ClusterSettings, _Mapping]] = ...) -> None: ...

class UpdateClusterSettingsRequest(_message.Message):
    __slots__ = ("settings", "update_mask")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    settings: ClusterSettings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, settings: _Optional[_Union[ClusterSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateClusterSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: ClusterSettings
    def __init__(self, settings: _Optional[_Union[ClusterSettings, _Mapping]] = ...) -> None: ...
