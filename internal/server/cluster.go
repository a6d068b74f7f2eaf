package server

import (
	"context"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/ring"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func (s *adminService) ClusterStatus(context.Context, *adminv1.ClusterStatusRequest) (*adminv1.ClusterStatusResponse, error) {
	r, _ := s.node.Ring()
	counts := r.Counts()
	out := &adminv1.ClusterStatusResponse{RingEpoch: r.Epoch(), Partitions: uint32(r.Q())}
	seen := map[string]bool{}
	for _, m := range s.node.Members() {
		seen[m.ID] = true
		c, in := counts[ring.NodeID(m.ID)]
		out.Members = append(out.Members, &adminv1.Member{
			Id: m.ID, Zone: m.Meta.Zone, ApiAddr: m.Meta.APIAddr, PeerAddr: m.Meta.PeerAddr,
			State: memberState(m.State), Partitions: uint32(c), InRing: in,
		})
	}
	for _, rm := range r.Members() { // ring members gossip has not met (single node, or unknown)
		if !seen[string(rm.ID)] {
			state := adminv1.MemberState_MEMBER_STATE_UNSPECIFIED
			if string(rm.ID) == s.node.ID() {
				state = adminv1.MemberState_MEMBER_STATE_ALIVE
			}
			out.Members = append(out.Members, &adminv1.Member{Id: string(rm.ID), Zone: rm.Zone, State: state, Partitions: uint32(counts[rm.ID]), InRing: true})
		}
	}
	slices.SortFunc(out.Members, func(a, b *adminv1.Member) int { return strings.Compare(a.GetId(), b.GetId()) })
	out.Staged = stagedToProto(s.node.Staged())
	_, progress, _ := s.node.Handoffs()
	out.Handoffs = progressToProto(progress)
	return out, nil
}

func (s *adminService) StageJoin(_ context.Context, req *adminv1.StageJoinRequest) (*adminv1.StageJoinResponse, error) {
	cs, err := s.node.StageJoin(req.GetNode())
	if err != nil {
		return nil, err
	}
	return &adminv1.StageJoinResponse{Staged: stagedToProto(cs)}, nil
}

func (s *adminService) StageLeave(_ context.Context, req *adminv1.StageLeaveRequest) (*adminv1.StageLeaveResponse, error) {
	cs, err := s.node.StageLeave(req.GetNode())
	if err != nil {
		return nil, err
	}
	return &adminv1.StageLeaveResponse{Staged: stagedToProto(cs)}, nil
}

func (s *adminService) PlanChanges(context.Context, *adminv1.PlanChangesRequest) (*adminv1.PlanChangesResponse, error) {
	next, transfers, err := s.node.Plan()
	if err != nil {
		return nil, err
	}
	after := map[string]uint32{}
	for id, c := range next.Counts() {
		after[string(id)] = uint32(c)
	}
	return &adminv1.PlanChangesResponse{
		Staged: stagedToProto(s.node.Staged()), Transfers: transfersToProto(transfers),
		PartitionsAfter: after, NextEpoch: next.Epoch(),
	}, nil
}

func (s *adminService) CommitChanges(context.Context, *adminv1.CommitChangesRequest) (*adminv1.CommitChangesResponse, error) {
	next, transfers, err := s.node.Commit()
	if err != nil {
		return nil, err
	}
	return &adminv1.CommitChangesResponse{RingEpoch: next.Epoch(), Transfers: transfersToProto(transfers)}, nil
}

func (s *adminService) ClearChanges(context.Context, *adminv1.ClearChangesRequest) (*adminv1.ClearChangesResponse, error) {
	if err := s.node.ClearStaged(); err != nil {
		return nil, err
	}
	return &adminv1.ClearChangesResponse{}, nil
}

// watchInterval is how often WatchHandoff sends progress.
const watchInterval = time.Second

func (s *adminService) WatchHandoff(ctx context.Context, req *adminv1.WatchHandoffRequest, stream *connect.ServerStream[adminv1.WatchHandoffResponse]) error {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		epoch, progress, complete := s.node.Handoffs()
		if err := stream.Send(&adminv1.WatchHandoffResponse{RingEpoch: epoch, Handoffs: progressToProto(progress), Complete: complete}); err != nil {
			return err
		}
		if complete && !req.GetFollow() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func memberState(st membership.State) adminv1.MemberState {
	switch st {
	case membership.Alive:
		return adminv1.MemberState_MEMBER_STATE_ALIVE
	case membership.Suspect:
		return adminv1.MemberState_MEMBER_STATE_SUSPECT
	case membership.Dead:
		return adminv1.MemberState_MEMBER_STATE_DEAD
	case membership.Left:
		return adminv1.MemberState_MEMBER_STATE_LEFT
	}
	return adminv1.MemberState_MEMBER_STATE_UNSPECIFIED
}

func stagedToProto(cs []node.Change) []*adminv1.StagedChange {
	out := make([]*adminv1.StagedChange, 0, len(cs))
	for _, c := range cs {
		k := adminv1.StagedChange_KIND_JOIN
		if c.Kind == "leave" {
			k = adminv1.StagedChange_KIND_LEAVE
		}
		out = append(out, &adminv1.StagedChange{Kind: k, NodeId: c.Node})
	}
	return out
}

func transfersToProto(ts []handoff.Transfer) []*adminv1.Transfer {
	out := make([]*adminv1.Transfer, 0, len(ts))
	for _, t := range ts {
		out = append(out, &adminv1.Transfer{Partition: uint32(t.Partition), From: t.From, To: t.To})
	}
	return out
}

func progressToProto(ps []handoff.Progress) []*adminv1.HandoffProgress {
	out := make([]*adminv1.HandoffProgress, 0, len(ps))
	for _, p := range ps {
		out = append(out, &adminv1.HandoffProgress{
			Partition: uint32(p.Partition), From: p.From, To: p.To, Keys: p.Keys, Bytes: p.Bytes,
			Rate: p.Rate, EtaSeconds: p.ETA(), Done: p.Done, RemainingBytes: p.RemainingBytes,
		})
	}
	return out
}
