package probes

// BPF objects are generated from bpf/*.bpf.c with Debian's clang and
// committed, so building the collector never needs clang.
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes softirq ../../bpf/softirq.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes napi ../../bpf/napi.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes devices ../../bpf/devices.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes drops ../../bpf/drops.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes ring ../../bpf/ring.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes workers ../../bpf/workers.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes kvm ../../bpf/kvm.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes -type vnet_trace_event traceHost ../../bpf/trace_host.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes traceGuest ../../bpf/trace_guest.bpf.c -- -I../../bpf
//go:generate bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package probes tcp ../../bpf/tcp.bpf.c -- -I../../bpf
