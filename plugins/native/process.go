package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/internal/wire"
)

// gracefulStop bounds go-plugin's graceful shutdown of a process before it
// is killed.
const gracefulStop = 3 * time.Second

// proc is one running plugin process. It never changes after start; a
// restart builds a new one.
type proc struct {
	client  *plugin.Client
	cmd     *exec.Cmd
	rpc     wire.PluginClient
	health  grpc_health_v1.HealthClient
	pid     int
	started time.Time
	kinds   plugins.Kind
	name    string // what the process reports in Init
	version string
	outputs [3]*lineLog // stderr, synced stderr, synced stdout

	stopOnce sync.Once
}

// hostPlugin is go-plugin's client side of the service: it keeps the
// connection too, for the health check.
type hostPlugin struct{ wire.GRPCPlugin }

type dispensed struct {
	rpc    wire.PluginClient
	health grpc_health_v1.HealthClient
}

func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &dispensed{rpc: wire.NewPluginClient(c), health: grpc_health_v1.NewHealthClient(c)}, nil
}

// quietLogger discards go-plugin's own log: its debug chatter, and its
// second copy of every stderr line, re-parsed and re-levelled. The router
// logs the lines itself (lineLog) and its own lifecycle events.
// See docs/RATIONALE.md "Why are go-plugin's own logs dropped?".
var quietLogger = hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Off, Output: io.Discard})

// start starts one process, completes the handshake and calls Init. On
// error nothing is left running.
func (p *Plugin) start(ctx context.Context) (_ *proc, err error) {
	cmd := exec.Command(p.cfg.Binary)
	// Why set Env and SkipHostEnv both? exec.Cmd inherits the whole
	// environment when Env is nil, and go-plugin appends os.Environ() unless
	// told not to: either way the router's secrets would leak.
	cmd.Env = p.env
	dieWithParent(cmd)
	log := p.log
	pr := &proc{cmd: cmd, outputs: [3]*lineLog{
		newLineLog(log, "stderr"), newLineLog(log, "stderr"), newLineLog(log, "stdout"),
	}}
	pr.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		Plugins:          plugin.PluginSet{wire.PluginName: &hostPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     p.cfg.StartTimeout,
		Stderr:           pr.outputs[0],
		SyncStderr:       pr.outputs[1],
		SyncStdout:       pr.outputs[2],
		Logger:           quietLogger,
		SkipHostEnv:      true,
		AutoMTLS:         true,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessage), grpc.MaxCallSendMsgSize(wire.MaxMessage))},
	})
	defer func() {
		if err != nil {
			pr.kill()
			err = fmt.Errorf("%w: plugin %q (%s): %w", ErrStart, p.cfg.Name, p.cfg.Binary, err)
		}
	}()
	conn, err := pr.client.Client()
	if err != nil {
		return pr, err
	}
	pr.started = time.Now()
	if cmd.Process != nil {
		pr.pid = cmd.Process.Pid
		for _, o := range pr.outputs {
			o.pid.Store(int64(pr.pid))
		}
	}
	raw, err := conn.Dispense(wire.PluginName)
	if err != nil {
		return pr, err
	}
	d := raw.(*dispensed)
	pr.rpc, pr.health = d.rpc, d.health
	ictx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	ir, err := pr.rpc.Init(ictx, &wire.InitRequest{Config: p.cfg.PluginConfig})
	if err != nil {
		// The process's Init error is its own message about its config:
		// show it, it is how an operator learns what is wrong.
		return pr, fmt.Errorf("init: %w", err)
	}
	pr.kinds = plugins.Kind(ir.Kinds) & (plugins.KindRoute | plugins.KindRedact)
	pr.name, pr.version = ir.Name, ir.Version
	if pr.kinds == 0 {
		return pr, fmt.Errorf("%w: the process serves no hook", ErrNoHook)
	}
	if p.cfg.Kind != 0 && !pr.kinds.Has(p.cfg.Kind) {
		return pr, fmt.Errorf("%w: configured kind %q, the process serves %q", ErrNoHook, p.cfg.Kind, pr.kinds)
	}
	return pr, nil
}

// alive reports why pr is no longer fit to serve, or nil.
func (p *Plugin) alive(pr *proc) error {
	if pr.client.Exited() {
		return errors.New("process exited")
	}
	if n := p.timeoutStreak.Load(); n >= FailureThreshold {
		return fmt.Errorf("%d calls in a row timed out", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	if _, err := pr.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName}); err != nil {
		return errors.New("health check failed: " + classify(ctx, err).Error())
	}
	return nil
}

// kill ends a process that is dead or stuck, at once.
func (pr *proc) kill() {
	pr.stopOnce.Do(func() {
		// Why kill before go-plugin's Kill? Its graceful path sends a
		// Shutdown RPC that waits for the process to exit: a stopped or
		// wedged process would hold it forever. os.Process signals through
		// a pidfd, so a reaped pid is never hit.
		if pr.cmd.Process != nil {
			_ = pr.cmd.Process.Kill()
		}
		pr.client.Kill()
		pr.flush()
	})
}

// stop ends a healthy process gracefully (go-plugin's Shutdown RPC), and
// kills it if it has not exited within gracefulStop.
func (pr *proc) stop() {
	pr.stopOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			t := time.NewTimer(gracefulStop)
			defer t.Stop()
			select {
			case <-done:
			case <-t.C:
				if pr.cmd.Process != nil {
					_ = pr.cmd.Process.Kill()
				}
			}
		}()
		pr.client.Kill()
		close(done)
		pr.flush()
	})
}

func (pr *proc) flush() {
	for _, o := range pr.outputs {
		o.flush()
	}
}

// supervise watches the running process: it pings it every HealthInterval,
// and checks it at once when a call saw the transport fail (kick). A process
// that exited, fails its health check or is stuck is killed and restarted
// with backoff; meanwhile calls fail fast and get the on_error policy.
func (p *Plugin) supervise(pr *proc) {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.HealthInterval)
	defer t.Stop()
	backoff := p.cfg.RestartBackoff
	for {
		select {
		case <-p.stop:
			p.cur.Store(nil)
			pr.stop()
			p.log.Info("native plugin stopped", "pid", pr.pid)
			return
		case <-t.C:
		case <-p.kick:
		}
		why := p.alive(pr)
		if why == nil {
			continue
		}
		p.cur.Store(nil)
		uptime := time.Since(pr.started)
		pr.kill()
		if uptime >= stableUptime {
			backoff = p.cfg.RestartBackoff
		}
		p.log.Warn("native plugin down; restarting", "pid", pr.pid, "reason", why.Error(),
			"uptime", uptime.Round(time.Millisecond).String(), "backoff", backoff.String())
		next, ok := p.restart(&backoff)
		if !ok {
			return // stopped while down
		}
		pr = next
		p.timeoutStreak.Store(0)
		p.restarts.Add(1)
		p.cur.Store(pr)
		p.log.Info("native plugin restarted", "pid", pr.pid, "version", pr.version, "restarts", p.restarts.Load())
	}
}

// restart waits *backoff, starts a new process, and repeats with a doubled
// backoff until one starts or the plugin is stopped.
func (p *Plugin) restart(backoff *time.Duration) (*proc, bool) {
	for {
		t := time.NewTimer(*backoff)
		select {
		case <-p.stop:
			t.Stop()
			p.log.Info("native plugin stopped")
			return nil, false
		case <-t.C:
		}
		*backoff = min(2**backoff, p.cfg.MaxRestartBackoff)
		pr, err := p.start(p.ctx)
		if err == nil {
			return pr, true
		}
		p.startFails.Add(1)
		p.log.Error("native plugin failed to restart", "err", err, "next_backoff", backoff.String())
	}
}
