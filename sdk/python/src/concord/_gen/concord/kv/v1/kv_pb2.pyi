import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sibling(_message.Message):
    __slots__ = ("value", "tombstone", "written_at")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_AT_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    tombstone: bool
    written_at: _timestamp_pb2.Timestamp
    def __init__(self, value: _Optional[bytes] = ..., tombstone: _Optional[bool] = ..., written_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("namespace", "key", "r")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    R_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: bytes
    r: int
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[bytes] = ..., r: _Optional[int] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("found", "siblings", "context", "resolved_by", "replies", "coordinator")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    found: bool
    siblings: _containers.RepeatedCompositeFieldContainer[Sibling]
    context: bytes
    resolved_by: str
    replies: int
    coordinator: str
    def __init__(self, found: _Optional[bool] = ..., siblings: _Optional[_Iterable[_Union[Sibling, _Mapping]]] = ..., context: _Optional[bytes] = ..., resolved_by: _Optional[str] = ..., replies: _Optional[int] = ..., coordinator: _Optional[str] = ...) -> None: ...

class PutRequest(_message.Message):
    __slots__ = ("namespace", "key", "value", "context", "w", "dw", "if_absent", "if_context_current", "return_siblings", "overwrite")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    DW_FIELD_NUMBER: _ClassVar[int]
    IF_ABSENT_FIELD_NUMBER: _ClassVar[int]
    IF_CONTEXT_CURRENT_FIELD_NUMBER: _ClassVar[int]
    RETURN_SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: bytes
    value: bytes
    context: bytes
    w: int
    dw: int
    if_absent: bool
    if_context_current: bool
    return_siblings: bool
    overwrite: bool
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., context: _Optional[bytes] = ..., w: _Optional[int] = ..., dw: _Optional[int] = ..., if_absent: _Optional[bool] = ..., if_context_current: _Optional[bool] = ..., return_siblings: _Optional[bool] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class PutResponse(_message.Message):
    __slots__ = ("context", "siblings", "coordinator")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    context: bytes
    siblings: _containers.RepeatedCompositeFieldContainer[Sibling]
    coordinator: str
    def __init__(self, context: _Optional[bytes] = ..., siblings: _Optional[_Iterable[_Union[Sibling, _Mapping]]] = ..., coordinator: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("namespace", "key", "context", "w", "force")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: bytes
    context: bytes
    w: int
    force: bool
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[bytes] = ..., context: _Optional[bytes] = ..., w: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("context", "coordinator")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    context: bytes
    coordinator: str
    def __init__(self, context: _Optional[bytes] = ..., coordinator: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("namespace", "prefix", "page_size", "page_token", "limit")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    prefix: bytes
    page_size: int
    page_token: bytes
    limit: int
    def __init__(self, namespace: _Optional[str] = ..., prefix: _Optional[bytes] = ..., page_size: _Optional[int] = ..., page_token: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys", "next_page_token")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    next_page_token: bytes
    def __init__(self, keys: _Optional[_Iterable[bytes]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class GetTopologyRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class TopologyNode(_message.Message):
    __slots__ = ("id", "api_addr", "zone")
    ID_FIELD_NUMBER: _ClassVar[int]
    API_ADDR_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    id: str
    api_addr: str
    zone: str
    def __init__(self, id: _Optional[str] = ..., api_addr: _Optional[str] = ..., zone: _Optional[str] = ...) -> None: ...

class PreferenceList(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, nodes: _Optional[_Iterable[int]] = ...) -> None: ...

class GetTopologyResponse(_message.Message):
    __slots__ = ("ring_epoch", "placement_name", "partitions", "n", "nodes", "preference_lists")
    RING_EPOCH_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PREFERENCE_LISTS_FIELD_NUMBER: _ClassVar[int]
    ring_epoch: int
    placement_name: str
    partitions: int
    n: int
    nodes: _containers.RepeatedCompositeFieldContainer[TopologyNode]
    preference_lists: _containers.RepeatedCompositeFieldContainer[PreferenceList]
    def __init__(self, ring_epoch: _Optional[int] = ..., placement_name: _Optional[str] = ..., partitions: _Optional[int] = ..., n: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[TopologyNode, _Mapping]]] = ..., preference_lists: _Optional[_Iterable[_Union[PreferenceList, _Mapping]]] = ...) -> None: ...

class ContextConflict(_message.Message):
    __slots__ = ("siblings", "context")
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    siblings: _containers.RepeatedCompositeFieldContainer[Sibling]
    context: bytes
    def __init__(self, siblings: _Optional[_Iterable[_Union[Sibling, _Mapping]]] = ..., context: _Optional[bytes] = ...) -> None: ...

class LimitExceeded(_message.Message):
    __slots__ = ("limit", "max", "actual", "retry_after_ms")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    limit: str
    max: int
    actual: int
    retry_after_ms: int
    def __init__(self, limit: _Optional[str] = ..., max: _Optional[int] = ..., actual: _Optional[int] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class QuorumFailure(_message.Message):
    __slots__ = ("acks", "required")
    ACKS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    acks: int
    required: int
    def __init__(self, acks: _Optional[int] = ..., required: _Optional[int] = ...) -> None: ...
