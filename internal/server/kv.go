package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

const (
	defaultPageSize = 1000
	maxPageSize     = 10_000
)

// kvService adapts a node to kvv1connect.KVServiceHandler.
type kvService struct {
	node *node.Node
}

var _ kvv1connect.KVServiceHandler = (*kvService)(nil)

func (s *kvService) Get(ctx context.Context, req *kvv1.GetRequest) (*kvv1.GetResponse, error) {
	res, err := s.node.Get(ctx, node.GetRequest{Namespace: req.GetNamespace(), Key: req.GetKey(), R: req.GetR()})
	if err != nil {
		return nil, err
	}
	sibs := siblingsToProto(res.Object)
	s.node.Numbers().Read(req.GetNamespace(), len(sibs)) // the §6.3 sibling histogram
	return &kvv1.GetResponse{
		Found:       res.Object.HasLive(),
		Siblings:    sibs,
		Context:     res.Context,
		ResolvedBy:  res.ResolvedBy,
		Replies:     uint32(res.Replies),
		Coordinator: res.Coordinator,
	}, nil
}

func (s *kvService) Put(ctx context.Context, req *kvv1.PutRequest) (*kvv1.PutResponse, error) {
	res, err := s.node.Put(ctx, node.PutRequest{
		Namespace:        req.GetNamespace(),
		Key:              req.GetKey(),
		Value:            req.GetValue(),
		Context:          req.GetContext(),
		W:                req.GetW(),
		DW:               req.GetDw(),
		IfAbsent:         req.GetIfAbsent(),
		IfContextCurrent: req.GetIfContextCurrent(),
		Force:            req.GetOverwrite(),
	})
	if err != nil {
		return nil, err
	}
	out := &kvv1.PutResponse{Context: res.Context, Coordinator: res.Coordinator}
	if req.GetReturnSiblings() {
		out.Siblings = siblingsToProto(res.Object)
	}
	return out, nil
}

func (s *kvService) Delete(ctx context.Context, req *kvv1.DeleteRequest) (*kvv1.DeleteResponse, error) {
	res, err := s.node.Put(ctx, node.PutRequest{
		Namespace: req.GetNamespace(),
		Key:       req.GetKey(),
		Context:   req.GetContext(),
		W:         req.GetW(),
		Tombstone: true,
		Force:     req.GetForce(),
	})
	if err != nil {
		return nil, err
	}
	return &kvv1.DeleteResponse{Context: res.Context, Coordinator: res.Coordinator}, nil
}

func (s *kvService) GetTopology(_ context.Context, req *kvv1.GetTopologyRequest) (*kvv1.GetTopologyResponse, error) {
	p, err := s.node.Placement(req.GetNamespace())
	if err != nil {
		return nil, err
	}
	out := &kvv1.GetTopologyResponse{
		RingEpoch: p.Epoch, PlacementName: p.Name, Partitions: uint32(p.Partitions), N: uint32(p.N),
		PreferenceLists: make([]*kvv1.PreferenceList, len(p.Lists)),
	}
	for _, n := range p.Nodes {
		out.Nodes = append(out.Nodes, &kvv1.TopologyNode{Id: n.ID, ApiAddr: n.APIAddr, Zone: n.Zone})
	}
	for i, list := range p.Lists {
		pl := &kvv1.PreferenceList{Nodes: make([]uint32, len(list))}
		for j, v := range list {
			pl.Nodes[j] = uint32(v)
		}
		out.PreferenceLists[i] = pl
	}
	return out, nil
}

func (s *kvService) ListKeys(ctx context.Context, req *kvv1.ListKeysRequest, stream *connect.ServerStream[kvv1.ListKeysResponse]) error {
	pageSize := int(req.GetPageSize())
	switch {
	case pageSize == 0:
		pageSize = defaultPageSize
	case pageSize > maxPageSize:
		return &errs.LimitError{Limit: "page_size", Max: maxPageSize, Actual: uint64(pageSize), Hint: "ask for at most 10000 keys per page"}
	}
	limit := int(req.GetLimit())
	page := &kvv1.ListKeysResponse{}
	var (
		sendErr error
		last    []byte // token after the last listed key
		sent    int
		limited bool
	)
	flush := func(token []byte) bool {
		page.NextPageToken = token
		sendErr = stream.Send(page)
		page = &kvv1.ListKeysResponse{}
		return sendErr == nil
	}
	err := s.node.ListKeys(ctx, node.ListRequest{Namespace: req.GetNamespace(), Prefix: req.GetPrefix(), After: req.GetPageToken()},
		func(key, token []byte) bool {
			page.Keys = append(page.Keys, append([]byte(nil), key...))
			last, sent = token, sent+1
			if limit > 0 && sent >= limit {
				limited = true
				return false
			}
			if len(page.Keys) == pageSize {
				return flush(token)
			}
			return true
		})
	if err != nil {
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	if !limited {
		last = nil // the listing is complete: the last page has no token
	}
	flush(last)
	return sendErr
}

// siblingsToProto returns the live siblings of an object.
func siblingsToProto(o dvv.Object) []*kvv1.Sibling {
	var out []*kvv1.Sibling
	for _, s := range o.Siblings() {
		if s.Tombstone {
			continue
		}
		out = append(out, &kvv1.Sibling{
			Value:     s.Value,
			WrittenAt: timestamppb.New(timeFromNanos(s.Timestamp)),
		})
	}
	return out
}
