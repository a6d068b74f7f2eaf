package peer

// Waiting returns how many Replicate and Read calls wait in queues for a
// request.
func (c *Client) Waiting() int { return c.replicates.waiting() + c.reads.waiting() }

// SendersPerQueue is how many requests of one queue are in flight at once.
const SendersPerQueue = sendersPerQueue
