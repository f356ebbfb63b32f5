// Package closedloop holds the end-to-end test of remediation: one
// pipeline, vnet_host -> sli -> a sink, watches a lab VM whose tap ring
// overflows, and the sli processor's trigger fixes it (txqueuelen x4),
// signals the VMM and pages an Alertmanager webhook; the drops stop and
// the trigger resolves. The same scenario in dry run changes nothing.
// The package has no code of its own: the test needs root (BPF, network
// namespaces) and runs in CI.
package closedloop
