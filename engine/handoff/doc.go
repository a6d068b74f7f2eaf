// Package handoff decides how partitions move between nodes when the ring
// changes. It is the pure part of the handoff; the node (engine/node,
// handoff.go) owns storage and peers, streams the data and feeds this
// package the events.
//
//   - [Plan] and [PlanAll] compute which partitions each new replica must
//     fetch and from whom; [Leaving] and [Drops] which old replicas give a
//     partition up.
//   - A [Fetch] is one transfer on its receiver: pending, fetching from one
//     old replica after another (the planned one first) after a cursor, done.
//     Its [Progress] is saved after every batch, so a restarted receiver
//     resumes where it stopped ([Resume]), and published in a [Report].
//   - [Collect] matches the plan with the receivers' reports: the ring change
//     is complete when every transfer is done, and only then do the old
//     replicas drop what they gave up.
//   - [Summarize] and [RateMeter] add the progress up per receiver and in
//     total, with a rate and an ETA, for operators (`concord cluster status
//     --watch`).
//
// The package does no IO, starts no goroutines and never reads the clock:
// callers pass the time in. Its scenario tests are in testdata/.
package handoff
