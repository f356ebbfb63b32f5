// Package tools pins the build tools (mdatagen, ocb, bpf2go) in a module of
// their own so their dependencies never leak into the components' module.
package tools
