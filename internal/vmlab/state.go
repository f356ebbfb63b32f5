package vmlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/discovery"
)

const (
	// StateDir holds one state file per live lab, the shared lock and each
	// lab's control sockets.
	StateDir = "/run/vnetlab"
	// Prefix starts every lab object name except the host taps (vnetN).
	Prefix = "vnlab"
	// maxSlots is the number of /24s in 198.18.0.0/15; a slot is a lab id.
	maxSlots = 512
	maxTaps  = 4096
)

// ownedName matches a lab object name and captures the lab's slot.
var ownedName = regexp.MustCompile(`^` + Prefix + `(\d+)-`)

// Layout is a lab's persisted description: names, addresses and processes.
// It is written to StateDir before anything is created, so a later lab can
// remove whatever a crashed one left behind.
type Layout struct {
	ID         string       `json:"id"` // Prefix + slot
	Slot       int          `json:"slot"`
	OwnerPID   int          `json:"owner_pid"`
	OwnerStart uint64       `json:"owner_start"` // /proc/<pid>/stat starttime, against pid reuse
	Subnet     netip.Prefix `json:"subnet"`
	Bridge     string       `json:"bridge"`
	HostVeth   string       `json:"host_veth"` // bridge port of the client veth
	ClientNS   string       `json:"client_netns"`
	ClientDev  string       `json:"client_dev"`
	ClientIP   netip.Addr   `json:"client_ip"`
	ClientMAC  string       `json:"client_mac"`
	// HostIP is the bridge's address in the root netns (Options.HostAddress),
	// BridgeMAC its fixed MAC; both zero otherwise.
	HostIP    netip.Addr `json:"host_ip,omitzero"`
	BridgeMAC string     `json:"bridge_mac,omitempty"`
	VMs       []VMLayout `json:"vms"`
}

// VMLayout describes one VM.
type VMLayout struct {
	Name         string     `json:"name"` // VM name (-name guest=), also its netns name
	Index        int        `json:"index"`
	HostTap      string     `json:"host_tap"`
	HostTapIndex int        `json:"host_tap_ifindex"`
	NS           string     `json:"netns"`
	GuestDev     string     `json:"guest_dev"`
	GuestIndex   int        `json:"guest_ifindex"`
	IP           netip.Addr `json:"ip"`
	MAC          string     `json:"mac"`
	PID          int        `json:"vmm_pid"`
	WorkerTID    int        `json:"worker_tid"`
	ControlSock  string     `json:"control_socket"` // VMM control socket
	// External: the caller runs the VMM (Options.ExternalVMM); NS, GuestDev
	// and ControlSock are empty.
	External bool `json:"external,omitempty"`
}

// NetnsPath is the VM's netns bind mount, e.g. /var/run/netns/vnlab3-vm0.
func (v VMLayout) NetnsPath() string { return NetnsPath(v.NS) }

// ClientNetnsPath is the client netns bind mount.
func (l *Layout) ClientNetnsPath() string { return NetnsPath(l.ClientNS) }

// RunDir holds the lab's sockets and logs; it goes with the lab.
func (l *Layout) RunDir() string { return filepath.Join(StateDir, l.ID) }

func stateFile(slot int) string {
	return filepath.Join(StateDir, fmt.Sprintf("%s%d.json", Prefix, slot))
}

// newLayout names everything of lab slot with a VM per host tap in taps.
func newLayout(slot int, taps []string, opts Options) *Layout {
	id := Prefix + strconv.Itoa(slot)
	base := [4]byte{198, byte(18 + slot/256), byte(slot % 256), 0}
	addr := func(host byte) netip.Addr { b := base; b[3] = host; return netip.AddrFrom4(b) }
	l := &Layout{
		ID: id, Slot: slot,
		Subnet:   netip.PrefixFrom(addr(0), 24),
		Bridge:   id + "-br",
		HostVeth: id + "-veth",
		ClientNS: id + "-client", ClientDev: id + "-cli",
		ClientIP:  addr(1),
		ClientMAC: mac(0x02, slot, 0xc1, 0),
	}
	if opts.HostAddress {
		l.HostIP, l.BridgeMAC = addr(254), mac(0x02, slot, 0xb7, 0)
	}
	for i, tap := range taps {
		name := fmt.Sprintf("%s-vm%d", id, i)
		vm := VMLayout{
			Name: name, Index: i, HostTap: tap,
			IP:  addr(byte(10 + i)),
			MAC: mac(0x02, slot, 0x9e, i),
		}
		if opts.ExternalVMM {
			vm.External = true
		} else {
			vm.NS, vm.GuestDev = name, fmt.Sprintf("%s-g%d", id, i)
			vm.ControlSock = filepath.Join(StateDir, id, name+".sock")
		}
		l.VMs = append(l.VMs, vm)
	}
	return l
}

// mac builds a locally administered unicast address from its first byte,
// the lab slot, a role byte and an index, unique per lab object.
func mac(first byte, slot int, role byte, i int) string {
	return fmt.Sprintf("%02x:76:%02x:%02x:%02x:%02x", first, role, slot>>8, slot&0xff, i)
}

// hostTapMAC is fe:... like libvirt's taps, so the bridge never takes a VM's
// guest MAC as its own.
func hostTapMAC(slot, i int) string { return mac(0xfe, slot, 0x7a, i) }

// lockState takes the machine-wide lab lock; the returned func releases it.
func lockState() (func(), error) {
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab state dir: %w", err)
	}
	unlock, err := LockFile(filepath.Join(StateDir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	return unlock, nil
}

// LockFile takes an exclusive flock on path, creating the file, and waits
// for it; the returned func releases it.
func LockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func (l *Layout) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	tmp := stateFile(l.Slot) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	if err := os.Rename(tmp, stateFile(l.Slot)); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

// LoadLayout reads the state file of lab id (e.g. "vnlab3").
func LoadLayout(id string) (*Layout, error) {
	slot, err := strconv.Atoi(strings.TrimPrefix(id, Prefix))
	if err != nil || !strings.HasPrefix(id, Prefix) {
		return nil, fmt.Errorf("lab id %q: want %s<n>", id, Prefix)
	}
	return loadLayout(stateFile(slot))
}

func loadLayout(path string) (*Layout, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var l Layout
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode lab state %s: %w", path, err)
	}
	return &l, nil
}

// Layouts lists the labs that have a state file, live or not.
func Layouts() ([]*Layout, error) {
	paths, err := filepath.Glob(filepath.Join(StateDir, Prefix+"*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Layout
	for _, p := range paths {
		l, err := loadLayout(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a lab closed since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (which may hold spaces and parentheses), the state first; nil if pid is
// gone.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// processStart is the start time of pid in clock ticks since boot, or 0 if
// pid does not exist.
func processStart(pid int) uint64 {
	f := procStat(pid)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	return v
}

// runsVM tells whether pid's command line names VM vm the way discovery
// reads it (-name guest=<vm>): a pid reused by another process does not.
func runsVM(pid int, vm string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && discovery.ParseName(strings.Split(string(b), "\x00")) == vm
}

// OwnerAlive tells whether the process that built the lab still runs.
func (l *Layout) OwnerAlive() bool {
	return l.OwnerStart != 0 && processStart(l.OwnerPID) == l.OwnerStart
}

// reserve sweeps the leftovers of dead labs and reserves a slot and n host
// tap names for a new lab, all under the lab lock. The state file is on disk
// before reserve returns.
func reserve(n int, opts Options) (*Layout, error) {
	unlock, err := lockState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	live, err := sweepLocked()
	if err != nil {
		return nil, err
	}
	usedSlot := map[int]bool{}
	usedTap := map[string]bool{}
	for _, l := range live {
		usedSlot[l.Slot] = true
		for _, vm := range l.VMs {
			usedTap[vm.HostTap] = true
		}
	}
	slot := -1
	for s := range maxSlots {
		if !usedSlot[s] {
			slot = s
			break
		}
	}
	if slot < 0 {
		return nil, fmt.Errorf("reserve lab: all %d lab slots in use", maxSlots)
	}
	var taps []string
	for i := 0; len(taps) < n && i < maxTaps; i++ {
		name := "vnet" + strconv.Itoa(i)
		if usedTap[name] || linkExists(name) {
			continue
		}
		taps = append(taps, name)
	}
	if len(taps) < n {
		return nil, errors.New("reserve lab: no free vnetN tap names")
	}
	l := newLayout(slot, taps, opts)
	l.OwnerPID = os.Getpid()
	l.OwnerStart = processStart(l.OwnerPID)
	if err := l.save(); err != nil {
		return nil, err
	}
	return l, nil
}

// Sweep removes the leftovers of labs whose owner process is dead and of lab
// objects no state file accounts for. Live labs are not touched.
func Sweep() error {
	unlock, err := lockState()
	if err != nil {
		return err
	}
	defer unlock()
	_, err = sweepLocked()
	return err
}

func sweepLocked() (live []*Layout, err error) {
	all, err := Layouts()
	if err != nil {
		return nil, err
	}
	var errs []error
	liveSlot := map[int]bool{}
	for _, l := range all {
		if l.OwnerAlive() {
			live = append(live, l)
			liveSlot[l.Slot] = true
			continue
		}
		errs = append(errs, l.destroy())
	}
	errs = append(errs, sweepOrphans(liveSlot))
	return live, errors.Join(errs...)
}

// destroy removes everything a layout names; safe on a half-built lab.
func (l *Layout) destroy() error {
	var errs []error
	for _, vm := range l.VMs {
		errs = append(errs, killVMM(vm))
	}
	links := []string{l.HostVeth, l.Bridge}
	for _, vm := range l.VMs {
		links = append(links, vm.HostTap)
	}
	for _, name := range links {
		errs = append(errs, deleteLink(name))
	}
	errs = append(errs, deleteNetns(l.ClientNS))
	for _, vm := range l.VMs {
		errs = append(errs, deleteNetns(vm.NS))
	}
	errs = append(errs, os.RemoveAll(l.RunDir()))
	if err := os.Remove(stateFile(l.Slot)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy lab %s: %w", l.ID, err)
	}
	return nil
}

// killVMM kills a leftover VMM, checking its cmdline against pid reuse.
func killVMM(vm VMLayout) error {
	if vm.PID <= 0 || !runsVM(vm.PID, vm.Name) {
		return nil
	}
	if err := syscall.Kill(vm.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill vmm %d of %s: %w", vm.PID, vm.Name, err)
	}
	return nil
}

// sweepOrphans removes netns and root-netns links named like lab objects of
// slots with no live lab: what a lab left when its state file went missing.
func sweepOrphans(liveSlot map[int]bool) error {
	orphan := func(name string) bool {
		m := ownedName.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		slot, err := strconv.Atoi(m[1])
		return err == nil && !liveSlot[slot]
	}
	var errs []error
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if orphan(e.Name()) {
			errs = append(errs, deleteNetns(e.Name()))
		}
	}
	names, err := linkNames()
	errs = append(errs, err)
	for _, name := range names {
		if orphan(name) {
			errs = append(errs, deleteLink(name))
		}
	}
	return errors.Join(errs...)
}
