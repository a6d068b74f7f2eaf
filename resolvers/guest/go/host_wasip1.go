//go:build wasip1

package guest

// The host functions of ABI v1 (module "concord").

//go:wasmimport concord input_read
//go:noescape
func hostInputRead(ptr *byte, n uint32) int32

//go:wasmimport concord output_write
//go:noescape
func hostOutputWrite(ptr *byte, n uint32) int32

//go:wasmimport concord config_read
//go:noescape
func hostConfigRead(ptr *byte, n uint32) int32

//go:wasmimport concord log
//go:noescape
func hostLog(level int32, ptr *byte, n uint32)

// abiMarker is the concord_abi_v1 export that declares ABI v1. The host
// never calls it.
//
//go:wasmexport concord_abi_v1
func abiMarker() {}

// resolve is the ABI's entry point: the host passes the frame length and
// gets a status back.
//
//go:wasmexport resolve
func resolve(inputLen uint32) int32 { return int32(handle(inputLen)) }
