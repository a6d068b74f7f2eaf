package membership

// PushPulls is how many push/pull states m sent: a join's, a periodic
// exchange's, or (before documents were requested one by one) a pull's.
func (m *Membership) PushPulls() int64 { return m.pushPulls.Load() }
