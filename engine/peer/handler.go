package peer

import (
	"cmp"
	"context"
	"math"
	"slices"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
	"github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1/peerv1connect"
)

const (
	// DefaultTransferBatch is the objects per Transfer message when the
	// request names no batch size (or one above MaxTransferBatch).
	DefaultTransferBatch = 256
	// MaxTransferBatch bounds the objects per Transfer message.
	MaxTransferBatch = 4096
)

// StreamProcedures are the HTTP paths of the peer service's streaming
// calls (Transfer), for servers that bound streams apart from unary calls.
var StreamProcedures = []string{peerv1connect.PeerServiceTransferProcedure}

// Handler serves concord.peer.v1 from a Local node: it decodes each
// request into domain types, calls the Local, and encodes its answer. It is
// safe for concurrent use if the Local is.
type Handler struct {
	local  Local
	policy Policy
}

var _ peerv1connect.PeerServiceHandler = (*Handler)(nil)

// CompressMinBytes is the smallest peer message sent gzipped, either way.
// Most peer messages are one object of a few hundred bytes: gzip's setup
// alone cost a third of a node's CPU under a read load when every message
// was compressed (docs/performance.md). Transfer batches and Merkle
// exchanges are larger and still shrink.
const CompressMinBytes = 32 << 10

// NewHandler returns the path and the HTTP handler of the peer service,
// its Connect calls and its streams (stream.go). It checks every request
// against policy before local sees it (validate.go; nil: against the hard
// ceilings only) and reads at most [MaxRequestBytes] of a request. Every
// error leaves encoded for the peer [Client] (innermost of opts'
// interceptors).
func NewHandler(local Local, policy Policy, opts ...connect.HandlerOption) (string, *Server) {
	if policy == nil {
		policy = ceilings{}
	}
	opts = append(slices.Clip(opts), connect.WithReadMaxBytes(MaxRequestBytes), handlerGzip, connect.WithCompressMinBytes(CompressMinBytes),
		connect.WithInterceptors(handlerErrors{}))
	h := &Handler{local: local, policy: policy}
	path, ch := peerv1connect.NewPeerServiceHandler(h, opts...)
	return path, &Server{connect: ch, h: h}
}

func (h *Handler) Replicate(ctx context.Context, req *peerv1.ReplicateRequest) (*peerv1.ReplicateResponse, error) {
	objs, err := decodeObjects(req.GetObjects())
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(h.checkHintOwner(req.GetIntendedOwner()), h.checkObjects(objs)); err != nil {
		return nil, err
	}
	durable, err := h.local.Apply(ctx, objs, req.GetSync(), req.GetIntendedOwner())
	if err != nil {
		return nil, err
	}
	return &peerv1.ReplicateResponse{Durable: durable}, nil
}

func (h *Handler) Read(ctx context.Context, req *peerv1.ReadRequest) (*peerv1.ReadResponse, error) {
	if _, err := h.checkKey(req.GetNamespace(), req.GetKey()); err != nil {
		return nil, err
	}
	obj, err := h.local.ReadLocal(ctx, req.GetNamespace(), req.GetKey())
	if err != nil {
		return nil, err
	}
	return &peerv1.ReadResponse{Object: encodeObject(obj)}, nil
}

// MaxReadsPerRequest bounds the keys of one ReadMany.
const MaxReadsPerRequest = 1024

func (h *Handler) ReadMany(ctx context.Context, req *peerv1.ReadManyRequest) (*peerv1.ReadManyResponse, error) {
	reads := req.GetReads()
	if len(reads) > MaxReadsPerRequest {
		return nil, &errs.LimitError{Limit: "max_reads_per_request", Max: MaxReadsPerRequest, Actual: uint64(len(reads))}
	}
	for _, r := range reads {
		if _, err := h.checkKey(r.GetNamespace(), r.GetKey()); err != nil {
			return nil, err
		}
	}
	out := &peerv1.ReadManyResponse{Objects: make([][]byte, len(reads))}
	for i, r := range reads {
		obj, err := h.local.ReadLocal(ctx, r.GetNamespace(), r.GetKey())
		if err != nil {
			return nil, err
		}
		out.Objects[i] = encodeObject(obj)
	}
	return out, nil
}

func (h *Handler) Coordinate(ctx context.Context, req *peerv1.CoordinateRequest) (*peerv1.CoordinateResponse, error) {
	obj, acks, err := h.local.Coordinate(ctx, decodeCoordinate(req))
	if err != nil {
		return nil, err
	}
	return &peerv1.CoordinateResponse{Object: encodeObject(obj), Acks: uint32(acks)}, nil
}

func (h *Handler) Tree(ctx context.Context, req *peerv1.TreeRequest) (*peerv1.TreeResponse, error) {
	p, err := partition(req.GetPartition())
	if err != nil {
		return nil, err
	}
	segs, err := h.local.Tree(ctx, p)
	if err != nil {
		return nil, err
	}
	return &peerv1.TreeResponse{Segments: segs}, nil
}

func (h *Handler) Segment(ctx context.Context, req *peerv1.SegmentRequest) (*peerv1.SegmentResponse, error) {
	p, err := partition(req.GetPartition())
	if err != nil {
		return nil, err
	}
	objs, err := h.local.Segment(ctx, p, req.GetSegments())
	if err != nil {
		return nil, err
	}
	return &peerv1.SegmentResponse{Objects: encodeObjects(objs)}, nil
}

func (h *Handler) Purge(ctx context.Context, req *peerv1.PurgeRequest) (*peerv1.PurgeResponse, error) {
	objs, err := decodeObjects(req.GetObjects())
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(checkPurge(objs), h.checkObjects(objs)); err != nil {
		return nil, err
	}
	n, err := h.local.Purge(ctx, objs)
	if err != nil {
		return nil, err
	}
	return &peerv1.PurgeResponse{Purged: uint32(n)}, nil
}

func (h *Handler) FetchModule(ctx context.Context, req *peerv1.FetchModuleRequest) (*peerv1.FetchModuleResponse, error) {
	if err := checkModuleHash(req.GetSha256()); err != nil {
		return nil, err
	}
	wasm, err := h.local.FetchModule(ctx, req.GetSha256())
	if err != nil {
		return nil, err
	}
	return &peerv1.FetchModuleResponse{Module: wasm}, nil
}

func (h *Handler) NamespaceStats(ctx context.Context, req *peerv1.NamespaceStatsRequest) (*peerv1.NamespaceStatsResponse, error) {
	if err := meta.ValidateName(req.GetNamespace()); err != nil {
		return nil, err
	}
	st, err := h.local.NamespaceStats(ctx, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	return encodeNamespaceStats(st), nil
}

// Transfer streams the Local's objects in messages of the requested batch
// size. Each message carries the cursor after its last object (the storage
// key of that object) and the bytes left after it.
func (h *Handler) Transfer(ctx context.Context, req *peerv1.TransferRequest, stream *connect.ServerStream[peerv1.TransferResponse]) error {
	p, err := partition(req.GetPartition())
	if err != nil {
		return err
	}
	if ns := req.GetNamespace(); ns != "" {
		if _, _, err := meta.ParseStorageName(ns); err != nil {
			return errs.Invalid("namespace", "%q is not a storage namespace", ns)
		}
	}
	batch := int(req.GetBatchSize())
	if batch <= 0 || batch > MaxTransferBatch {
		batch = DefaultTransferBatch
	}
	tr := TransferRequest{Partition: p, Namespace: req.GetNamespace(), Cursor: req.GetCursor(), BatchSize: batch}
	msg := &peerv1.TransferResponse{}
	var last Object
	flush := func() error {
		msg.Cursor = keys.Data(p, last.Namespace, last.Key)
		err := stream.Send(msg)
		msg = &peerv1.TransferResponse{}
		return err
	}
	err = h.local.Transfer(ctx, tr, func(o Object, remaining uint64) error {
		msg.Objects = append(msg.Objects, &peerv1.KeyObject{Namespace: o.Namespace, Key: o.Key, Object: encodeObject(o.Object)})
		msg.RemainingBytes, last = remaining, o
		if len(msg.Objects) < batch {
			return nil
		}
		return flush()
	})
	if err != nil {
		return err
	}
	if len(msg.Objects) > 0 {
		return flush()
	}
	return nil
}

// partition checks a partition number from the wire; the Local checks it
// against its ring.
func partition(p uint32) (uint16, error) {
	if p > math.MaxUint16 {
		return 0, errs.Invalid("partition", "partition %d is out of range", p)
	}
	return uint16(p), nil
}
