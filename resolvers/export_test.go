package resolvers

// WithYield replaces runtime.Gosched as the way a long call yields its
// core at a check-in (meter.go), for tests that watch it.
func WithYield(yield func()) PoolOption {
	return func(p *Pool) { p.yield = yield }
}
