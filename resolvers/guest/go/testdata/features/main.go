// Command features exercises the guest library; the key says what to do
// (see guesttest.CheckFeatures). It is built by guest_test.go.
package main

import (
	"errors"
	"strconv"

	guest "github.com/concord-kv/concord/resolvers/guest/go"
)

// config is read while the host runs _initialize (package init): Config
// works there too.
var config = guest.Config()

func init() {
	guest.Register(func(in guest.Input) guest.Result {
		switch string(in.Key) {
		case "config":
			return guest.OK(config)
		case "input":
			out := in.Namespace + "/" + string(in.Key) + "/" + strconv.Itoa(len(in.Siblings))
			for _, s := range in.Siblings {
				out += "/" + strconv.FormatBool(s.Tombstone) + ":" + strconv.FormatInt(s.Timestamp, 10) + ":" + string(s.Value)
			}
			return guest.OK([]byte(out))
		case "log":
			guest.Logf(guest.LevelWarn, "hello %d", 42)
			return guest.OK(nil)
		case "defer":
			return guest.Defer()
		case "fail":
			return guest.Fail(errors.New("cannot merge"))
		case "panic":
			panic("boom")
		case "big":
			return guest.OK(make([]byte, 2<<20))
		}
		return guest.Defer()
	})
}

func main() {}
