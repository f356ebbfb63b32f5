// Command vnetlab drives the VM lab (internal/vmlab) from a shell: bring a
// lab up, inject faults, send traffic, read the ground truth, tear it down.
//
//	vnetlab up [-vms N] [-txqueuelen N]   # prints the layout as JSON, runs until SIGINT/SIGTERM
//	vnetlab ls
//	vnetlab down [-lab ID]
//	vnetlab fault [-lab ID] [-vm I] pause|resume [to_guest|from_guest|both]
//	vnetlab fault ... delay DURATION | drop-every DIR N | filter drop_all|none
//	vnetlab fault ... txqueuelen N | tbf RATE_BYTES BURST_BYTES LIMIT_BYTES | tbf-clear | sigusr1
//	vnetlab traffic [-lab ID] [-vm I] [-dir to_guest|from_guest] udp -count N [-size B] [-rate PPS]
//	vnetlab traffic ... tcp -bytes B | rr -n N [-req B] [-resp B]
//	vnetlab stats [-lab ID]
//
// Every command but up prints JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: vnetlab up|ls|down|fault|traffic|stats [flags] (see go doc ./cmd/vnetlab)")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"up": up, "ls": ls, "down": down, "fault": fault, "traffic": traffic, "stats": stats,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "vnetlab: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "vnetlab:", err)
		os.Exit(1)
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	vms := fs.Int("vms", 2, "number of VMs (1..16)")
	qlen := fs.Int("txqueuelen", 0, "host tap txqueuelen (0: tun's default)")
	_ = fs.Parse(args)
	lab, err := vmlab.New(context.Background(), vmlab.Options{VMs: *vms, TxQueueLen: *qlen})
	if err != nil {
		return err
	}
	if err := printJSON(lab.Layout); err != nil {
		return errors.Join(err, lab.Close())
	}
	// vmlab tears the lab down on SIGINT/SIGTERM, then the signal ends us.
	select {}
}

func ls(args []string) error {
	labs, err := vmlab.Layouts()
	if err != nil {
		return err
	}
	type row struct {
		ID       string `json:"id"`
		Owner    int    `json:"owner_pid"`
		Alive    bool   `json:"owner_alive"`
		VMs      int    `json:"vms"`
		Subnet   string `json:"subnet"`
		ClientNS string `json:"client_netns"`
	}
	rows := []row{}
	for _, l := range labs {
		rows = append(rows, row{l.ID, l.OwnerPID, l.OwnerAlive(), len(l.VMs), l.Subnet.String(), l.ClientNS})
	}
	return printJSON(rows)
}

// pickLab resolves -lab: empty means the only live lab.
func pickLab(id string) (string, error) {
	if id != "" {
		return id, nil
	}
	live, err := liveLabs()
	if err != nil {
		return "", err
	}
	if len(live) != 1 {
		return "", fmt.Errorf("%d live labs %v: name one with -lab", len(live), live)
	}
	return live[0], nil
}

func liveLabs() ([]string, error) {
	labs, err := vmlab.Layouts()
	if err != nil {
		return nil, err
	}
	var live []string
	for _, l := range labs {
		if l.OwnerAlive() {
			live = append(live, l.ID)
		}
	}
	return live, nil
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	id := fs.String("lab", "", "lab id (default: the only live lab)")
	_ = fs.Parse(args)
	name := *id
	if name == "" {
		live, err := liveLabs()
		if err != nil {
			return err
		}
		switch len(live) {
		case 0:
			return vmlab.Sweep() // only leftovers of dead owners, if any
		case 1:
			name = live[0]
		default:
			return fmt.Errorf("%d live labs %v: name one with -lab", len(live), live)
		}
	}
	l, err := vmlab.LoadLayout(name)
	if err != nil {
		return err
	}
	if !l.OwnerAlive() {
		return vmlab.Sweep()
	}
	// The owner tears its lab down on SIGTERM; wait for its state to go.
	if err := syscall.Kill(l.OwnerPID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal owner %d of %s: %w", l.OwnerPID, name, err)
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := vmlab.LoadLayout(name); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("lab %s still up 15s after SIGTERM to its owner %d", name, l.OwnerPID)
}

// attach parses the common -lab/-vm flags and opens the lab.
func attach(fs *flag.FlagSet, args []string) (*vmlab.Lab, *vmlab.VM, error) {
	id := fs.String("lab", "", "lab id (default: the only live lab)")
	vmi := fs.Int("vm", 0, "VM index")
	_ = fs.Parse(args)
	name, err := pickLab(*id)
	if err != nil {
		return nil, nil, err
	}
	lab, err := vmlab.Attach(name)
	if err != nil {
		return nil, nil, err
	}
	if *vmi < 0 || *vmi >= len(lab.AllVMs()) {
		return nil, nil, errors.Join(fmt.Errorf("-vm %d: lab %s has %d VMs", *vmi, name, len(lab.AllVMs())), lab.Close())
	}
	return lab, lab.VM(*vmi), nil
}

func fault(args []string) error {
	fs := flag.NewFlagSet("fault", flag.ExitOnError)
	lab, vm, err := attach(fs, args)
	if err != nil {
		return err
	}
	defer lab.Close()
	a := fs.Args()
	if len(a) == 0 {
		return errors.New("fault: name one: pause, resume, delay, drop-every, filter, txqueuelen, tbf, tbf-clear, sigusr1")
	}
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	num := func(i int) (uint64, error) { return strconv.ParseUint(arg(i), 10, 64) }
	switch a[0] {
	case "pause", "resume":
		dir := vmmctl.Direction(arg(1))
		if dir == "" {
			dir = vmmctl.Both
		}
		if a[0] == "pause" {
			return vm.Control.Pause(dir)
		}
		return vm.Control.Resume(dir)
	case "delay":
		d, err := time.ParseDuration(arg(1))
		if err != nil {
			return err
		}
		return vm.Control.SetDelay(d)
	case "drop-every":
		n, err := num(2)
		if err != nil {
			return err
		}
		return vm.Control.DropEveryNth(vmmctl.Direction(arg(1)), n)
	case "filter":
		return vm.Control.TapFilter(vmmctl.FilterMode(arg(1)))
	case "txqueuelen":
		n, err := num(1)
		if err != nil {
			return err
		}
		return vm.SetTxQueueLen(int(n))
	case "tbf":
		rate, err1 := num(1)
		burst, err2 := num(2)
		limit, err3 := num(3)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("tbf RATE_BYTES BURST_BYTES LIMIT_BYTES: %w", err)
		}
		return lab.SetClientTBF(vmlab.TBF{Rate: rate, Burst: uint32(burst), Limit: uint32(limit)})
	case "tbf-clear":
		return lab.ClearClientTBF()
	case "sigusr1":
		return syscall.Kill(vm.PID, syscall.SIGUSR1)
	}
	return fmt.Errorf("fault: unknown fault %q", a[0])
}

func traffic(args []string) error {
	fs := flag.NewFlagSet("traffic", flag.ExitOnError)
	dir := fs.String("dir", string(vmmctl.ToGuest), "to_guest (client -> VM) or from_guest")
	lab, vm, err := attach(fs, args)
	if err != nil {
		return err
	}
	defer lab.Close()
	from, to := lab.Client(), vm.Guest()
	switch vmmctl.Direction(*dir) {
	case vmmctl.ToGuest:
	case vmmctl.FromGuest:
		from, to = to, from
	default:
		return fmt.Errorf("-dir %q: want to_guest or from_guest", *dir)
	}
	if len(fs.Args()) == 0 {
		return errors.New("traffic: name one: udp, tcp, rr")
	}
	sub := flag.NewFlagSet(fs.Arg(0), flag.ExitOnError)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	switch fs.Arg(0) {
	case "udp":
		count := sub.Int("count", 1000, "datagrams")
		size := sub.Int("size", 64, "payload bytes (8..1472)")
		rate := sub.Float64("rate", 0, "datagrams per second (0: as fast as possible)")
		settle := sub.Duration("settle", 200*time.Millisecond, "wait for arrivals until quiet this long")
		_ = sub.Parse(fs.Args()[1:])
		res, err := vmlab.UDPBurst(ctx, from, to, vmlab.UDPSpec{Count: *count, Size: *size, Rate: *rate}, *settle)
		return errors.Join(err, printJSON(res))
	case "tcp":
		n := sub.Int64("bytes", 10<<20, "bytes to send")
		_ = sub.Parse(fs.Args()[1:])
		res, err := vmlab.TCPBulk(ctx, from, to, *n)
		return errors.Join(err, printJSON(struct {
			vmlab.TCPResult
			Exact bool
		}{res, res.Exact()}))
	case "rr":
		n := sub.Int("n", 1000, "request/response rounds")
		req := sub.Int("req", 64, "request bytes")
		resp := sub.Int("resp", 1024, "response bytes")
		_ = sub.Parse(fs.Args()[1:])
		res, err := vmlab.TCPRequestResponse(ctx, from, to, *n, *req, *resp)
		return errors.Join(err, printJSON(res))
	}
	return fmt.Errorf("traffic: unknown kind %q", fs.Arg(0))
}

func stats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ExitOnError)
	lab, _, err := attach(fs, args)
	if err != nil {
		return err
	}
	defer lab.Close()
	s, err := lab.Snapshot()
	if err != nil {
		return err
	}
	return printJSON(s)
}
