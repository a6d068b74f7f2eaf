package peer

// Waiting returns how many Replicate calls wait in queues for a request.
func (c *Client) Waiting() int {
	c.co.mu.Lock()
	defer c.co.mu.Unlock()
	n := 0
	for _, q := range c.co.queues {
		n += len(q.waiting)
	}
	return n
}
