package peer

import (
	"context"
	"net/http"
	"slices"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	peerv1 "github.com/concord-kv/concord/proto/gen/concord/peer/v1"
	"github.com/concord-kv/concord/proto/gen/concord/peer/v1/peerv1connect"
)

// Object is one key's replica as the handler hands it to the node.
type Object struct {
	Namespace string
	Key       []byte
	Object    dvv.Object
}

// Local is what a node offers its peers. Its errors are engine errors
// (package errs), [ErrNotCoordinator] or context errors; the handler sends
// anything else as errs.ErrUnavailable without its text, so a Local logs
// its internal failures itself.
type Local interface {
	// Apply merges objects into the local replica, or keeps them as hints
	// for intendedOwner when it is set. It reports whether they were synced.
	Apply(ctx context.Context, objs []Object, sync bool, intendedOwner string) (durable bool, err error)
	// ReadLocal returns the local replica of a key.
	ReadLocal(ctx context.Context, ns string, key []byte) (dvv.Object, error)
	// Coordinate runs a client write forwarded by another node; it answers
	// ErrNotCoordinator when this node does not coordinate the key.
	Coordinate(ctx context.Context, req *peerv1.CoordinateRequest) (dvv.Object, int, error)
	// Tree, Segment and Transfer serve anti-entropy and handoff.
	Tree(ctx context.Context, partition uint16) ([]uint64, error)
	Segment(ctx context.Context, partition uint16, segments []uint32) ([]Object, error)
	Transfer(ctx context.Context, req *peerv1.TransferRequest, send func(*peerv1.TransferResponse) error) error
	// Purge removes the objects whose local copies are exactly these.
	Purge(ctx context.Context, objs []Object) (int, error)
	// FetchModule returns a resolver module by hash, nil if not held.
	FetchModule(ctx context.Context, sha256 string) ([]byte, error)
}

// Handler serves concord.peer.v1 from a Local node.
type Handler struct {
	local Local
}

var _ peerv1connect.PeerServiceHandler = (*Handler)(nil)

// NewHandler returns the path and http.Handler of the peer service. Every
// error leaves encoded for the peer [Client] (innermost of opts'
// interceptors).
func NewHandler(local Local, opts ...connect.HandlerOption) (string, http.Handler) {
	opts = append(slices.Clip(opts), connect.WithInterceptors(handlerErrors{}))
	return peerv1connect.NewPeerServiceHandler(&Handler{local: local}, opts...)
}

func (h *Handler) Replicate(ctx context.Context, req *peerv1.ReplicateRequest) (*peerv1.ReplicateResponse, error) {
	objs, err := decodeObjects(req.GetObjects())
	if err != nil {
		return nil, err
	}
	durable, err := h.local.Apply(ctx, objs, req.GetSync(), req.GetIntendedOwner())
	if err != nil {
		return nil, err
	}
	return &peerv1.ReplicateResponse{Durable: durable}, nil
}

func (h *Handler) Read(ctx context.Context, req *peerv1.ReadRequest) (*peerv1.ReadResponse, error) {
	obj, err := h.local.ReadLocal(ctx, req.GetNamespace(), req.GetKey())
	if err != nil {
		return nil, err
	}
	return &peerv1.ReadResponse{Object: encodeObject(obj)}, nil
}

func (h *Handler) Coordinate(ctx context.Context, req *peerv1.CoordinateRequest) (*peerv1.CoordinateResponse, error) {
	obj, acks, err := h.local.Coordinate(ctx, req)
	if err != nil {
		return nil, err
	}
	return &peerv1.CoordinateResponse{Object: encodeObject(obj), Acks: uint32(acks)}, nil
}

func (h *Handler) Tree(ctx context.Context, req *peerv1.TreeRequest) (*peerv1.TreeResponse, error) {
	segs, err := h.local.Tree(ctx, uint16(req.GetPartition()))
	if err != nil {
		return nil, err
	}
	return &peerv1.TreeResponse{Segments: segs}, nil
}

func (h *Handler) Segment(ctx context.Context, req *peerv1.SegmentRequest) (*peerv1.SegmentResponse, error) {
	objs, err := h.local.Segment(ctx, uint16(req.GetPartition()), req.GetSegments())
	if err != nil {
		return nil, err
	}
	return &peerv1.SegmentResponse{Objects: EncodeObjects(objs)}, nil
}

func (h *Handler) Purge(ctx context.Context, req *peerv1.PurgeRequest) (*peerv1.PurgeResponse, error) {
	objs, err := decodeObjects(req.GetObjects())
	if err != nil {
		return nil, err
	}
	n, err := h.local.Purge(ctx, objs)
	if err != nil {
		return nil, err
	}
	return &peerv1.PurgeResponse{Purged: uint32(n)}, nil
}

func (h *Handler) FetchModule(ctx context.Context, req *peerv1.FetchModuleRequest) (*peerv1.FetchModuleResponse, error) {
	wasm, err := h.local.FetchModule(ctx, req.GetSha256())
	if err != nil {
		return nil, err
	}
	return &peerv1.FetchModuleResponse{Module: wasm}, nil
}

func (h *Handler) Transfer(ctx context.Context, req *peerv1.TransferRequest, stream *connect.ServerStream[peerv1.TransferResponse]) error {
	return h.local.Transfer(ctx, req, stream.Send)
}

func decodeObjects(in []*peerv1.KeyObject) ([]Object, error) {
	out := make([]Object, 0, len(in))
	for _, ko := range in {
		obj, err := decodeObject(ko.GetObject())
		if err != nil {
			return nil, errs.Invalid("objects", "malformed object for key %q", ko.GetKey())
		}
		out = append(out, Object{Namespace: ko.GetNamespace(), Key: ko.GetKey(), Object: obj})
	}
	return out, nil
}

// EncodeObjects turns objects into their wire form.
func EncodeObjects(objs []Object) []*peerv1.KeyObject {
	out := make([]*peerv1.KeyObject, 0, len(objs))
	for _, o := range objs {
		out = append(out, &peerv1.KeyObject{Namespace: o.Namespace, Key: o.Key, Object: encodeObject(o.Object)})
	}
	return out
}

// DecodeObjects turns wire objects back into objects.
func DecodeObjects(in []*peerv1.KeyObject) ([]Object, error) { return decodeObjects(in) }

func encodeObject(o dvv.Object) []byte {
	if o.IsZero() {
		return nil
	}
	raw, _ := o.MarshalBinary()
	return raw
}
