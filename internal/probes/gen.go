package probes

// BPF objects are generated from bpf/*.bpf.c with Debian's clang and
// committed, so building the collector never needs clang.
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes softirq ../../bpf/softirq.bpf.c -- -I../../bpf
