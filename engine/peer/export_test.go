package peer

// Waiting returns how many Replicate and Read calls wait in queues for a
// request.
func (c *Client) Waiting() int { return c.replicates.waiting() + c.reads.waiting() }
