package ring

// Transfer is a change of owner of one partition between two rings.
type Transfer struct {
	Partition int
	From, To  NodeID
}

// Plan lists the partitions whose owner differs between old and new, sorted
// by partition: the ownership handoffs that committing new after old
// starts. Both rings must have the same Q (a cluster's Q never changes);
// Plan panics otherwise.
func Plan(old, new Ring) []Transfer {
	if old.Q() != new.Q() {
		panic("ring: Plan of rings with different Q")
	}
	var out []Transfer
	for p := range old.owners {
		if from, to := old.Owner(p), new.Owner(p); from != to {
			out = append(out, Transfer{Partition: p, From: from, To: to})
		}
	}
	return out
}
