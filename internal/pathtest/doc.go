// Package pathtest holds the end-to-end packet-path tests: the vnet_host
// and vnet_guest receivers in the lab, traces checked span by span.
package pathtest
