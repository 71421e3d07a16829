// Package jobs runs the background work that is not delivery: provider
// pulls (backfills on connect and periodic polls), on River, with the same
// code on SQLite (riversqlite) and PostgreSQL (riverpgxv5). Jobs are unique
// per (user, data type) while waiting, so each runs once cluster-wide.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/wearbridge/wearbridge/internal/connect"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Config configures the job runner. Zero values mean the defaults.
type Config struct {
	// PollInterval is how often active users of pulled providers are
	// polled. Default 15 min; -1 turns polling off.
	PollInterval time.Duration
	// PollWindow is how far back a poll re-reads, to catch late data.
	// Default 72 h.
	PollWindow time.Duration
	// MaxWorkers is the number of jobs run at once. Default 10.
	MaxWorkers int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Runner enqueues and works jobs.
type Runner struct {
	cfg       Config
	store     *store.Store
	providers *source.Registry
	conn      *connect.Connector
	ingest    *pipeline.Ingest
	q         queue
}

// queue hides River's client type, which differs by driver.
type queue interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// New migrates River's tables and returns a Runner. Call Start to work
// jobs.
func New(ctx context.Context, s *store.Store, providers *source.Registry, conn *connect.Connector, ingest *pipeline.Ingest, cfg Config) (*Runner, error) {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 15 * time.Minute
	}
	if cfg.PollWindow <= 0 {
		cfg.PollWindow = 72 * time.Hour
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Runner{cfg: cfg, store: s, providers: providers, conn: conn, ingest: ingest}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &pullWorker{r: r}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &pollWorker{r: r}); err != nil {
		return nil, err
	}
	rc := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		JobTimeout:        10 * time.Minute,
		Logger:            slog.New(warnOnly{cfg.Logger.Handler()}).With("component", "river"),
	}
	if cfg.PollInterval > 0 {
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.PollInterval), func() (river.JobArgs, *river.InsertOpts) {
				return PollArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: cfg.PollInterval}}
			}, &river.PeriodicJobOpts{RunOnStart: false}),
		}
	}
	var err error
	if s.IsPostgres() {
		r.q, err = newQueue(ctx, riverpgxv5.New(s.Pool()), rc)
	} else {
		r.q, err = newQueue(ctx, riversqlite.New(s.DB()), rc)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func newQueue[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], rc *river.Config) (queue, error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: rc.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate: %w", err)
	}
	c, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return c, nil
}

// Start starts working jobs.
func (r *Runner) Start(ctx context.Context) error { return r.q.Start(ctx) }

// Stop stops working jobs, waiting for those running.
func (r *Runner) Stop(ctx context.Context) error { return r.q.Stop(ctx) }

// Pending counts jobs that are waiting or running.
func (r *Runner) Pending(ctx context.Context) (int, error) {
	res, err := r.q.JobList(ctx, river.NewJobListParams().States(
		rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
		rivertype.JobStateScheduled, rivertype.JobStatePending).First(1000))
	if err != nil {
		return 0, fmt.Errorf("list jobs: %w", err)
	}
	n := 0
	for _, j := range res.Jobs {
		if j.Kind != (PollArgs{}).Kind() {
			n++
		}
	}
	return n, nil
}

// PullArgs asks for one pull of a user's data of one type.
type PullArgs struct {
	UserID   string         `json:"user_id" river:"unique"`
	DataType model.DataType `json:"data_type" river:"unique"`
	Start    time.Time      `json:"start" river:"unique"`
	End      time.Time      `json:"end" river:"unique"`
	Backfill bool           `json:"backfill" river:"unique"`
	// ItemID, when set, fetches one item instead of the window.
	ItemID string `json:"item_id,omitempty" river:"unique"`
}

// Kind is the River job kind.
func (PullArgs) Kind() string { return "pull" }

// InsertOpts makes a pull unique per (user, data type, window, backfill or
// poll, item) while waiting or running: the same request twice runs once,
// but a push asking for another window is never dropped.
func (PullArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{
		ByArgs:  true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable},
	}}
}

// Backfill enqueues the pulls of a newly connected user: every data type the
// provider pulls, over its backfill depth. Push-only providers need none.
func (r *Runner) Backfill(ctx context.Context, u store.User) error {
	p, ok := r.providers.Get(u.Provider)
	if !ok {
		return fmt.Errorf("backfill: %w %q", connect.ErrUnknownProvider, u.Provider)
	}
	puller, ok := p.(source.Puller)
	if !ok {
		return nil
	}
	end := r.cfg.Now().UTC()
	start := end.Add(-puller.BackfillDepth())
	types := puller.PullTypes()
	err := r.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.StartBackfill(ctx, u.ID, len(types)); err != nil {
			return err
		}
		return pipeline.AppendUserEvent(ctx, tx, u, "large_request_processing", pipeline.BackfillStarted(u, backfillRef(u)))
	})
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	for _, t := range types {
		if _, err := r.q.Insert(ctx, PullArgs{UserID: u.ID, DataType: t, Start: start, End: end, Backfill: true}, nil); err != nil {
			return fmt.Errorf("backfill: enqueue %s: %w", t, err)
		}
	}
	return nil
}

func backfillRef(u store.User) string { return "backfill-" + u.ID }

// Enqueue asks for one pull for u, as a push notification does.
func (r *Runner) Enqueue(ctx context.Context, u store.User, req source.PullRequest) error {
	args := PullArgs{UserID: u.ID, DataType: req.Type, Start: req.Start.UTC(), End: req.End.UTC(), ItemID: req.ItemID}
	if _, err := r.q.Insert(ctx, args, nil); err != nil {
		return fmt.Errorf("enqueue pull: %w", err)
	}
	return nil
}

type pullWorker struct {
	river.WorkerDefaults[PullArgs]
	r *Runner
}

// Work pulls one window (or fetches one item). A rate limit snoozes the
// job until the provider's reset and sends rate_limit_hit; a token the
// provider refuses is refreshed once, and if it is still refused the user
// is deactivated with access_revoked; a refused refresh token deactivates
// the user with connection_error.
func (w *pullWorker) Work(ctx context.Context, job *river.Job[PullArgs]) error {
	a := job.Args
	u, err := w.r.store.UserByID(ctx, a.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("user %s no longer exists", a.UserID))
	}
	if err != nil {
		return err
	}
	if !u.Active {
		return nil
	}
	p, _ := w.r.providers.Get(u.Provider)
	var counts pipeline.Counts
	pull := func() error {
		hc, err := w.r.conn.Client(ctx, u)
		if err != nil {
			return err
		}
		sink := w.r.ingest.Sink(u, &counts)
		if a.ItemID != "" {
			f, ok := p.(source.ItemFetcher)
			if !ok {
				return river.JobCancel(fmt.Errorf("provider %s cannot fetch single items", u.Provider))
			}
			return f.FetchItem(ctx, hc, a.DataType, a.ItemID, sink)
		}
		puller, ok := p.(source.Puller)
		if !ok {
			return river.JobCancel(fmt.Errorf("provider %s does not pull", u.Provider))
		}
		return puller.Pull(ctx, hc, a.DataType, a.Start, a.End, sink)
	}
	err = pull()
	if errors.Is(err, source.ErrUnauthorized) {
		// The provider refused a token we thought valid: refresh once.
		if xerr := w.r.conn.ExpireToken(ctx, u.ID); xerr == nil {
			err = pull()
		}
	}
	log := w.r.cfg.Logger.With("user_id", u.ID, "provider", u.Provider, "data_type", a.DataType)
	var rl *source.RateLimitError
	switch {
	case err == nil:
		log.InfoContext(ctx, "pull done", "backfill", a.Backfill, "stored", counts.Stored, "unchanged", counts.Unchanged, "problems", counts.Problems)
		return w.finishBackfill(ctx, job, u, counts)
	case errors.As(err, &rl):
		wait := max(rl.RetryAfter, time.Second)
		log.WarnContext(ctx, "pull rate limited", "retry_after", wait)
		if eerr := w.event(ctx, u, "rate_limit_hit", pipeline.RateLimitHit(u, string(a.DataType), wait.Seconds())); eerr != nil {
			return eerr
		}
		return river.JobSnooze(wait)
	case errors.Is(err, connect.ErrReauthRequired):
		log.WarnContext(ctx, "pull stopped: reconnect needed", "err", err)
		return w.disconnect(ctx, u, "connection_error", pipeline.ConnectionError(u, "the provider refused the refresh token; the user must connect again"), err)
	case errors.Is(err, source.ErrUnauthorized):
		log.WarnContext(ctx, "pull stopped: access revoked", "err", err)
		return w.disconnect(ctx, u, "access_revoked", pipeline.AccessRevoked(u, "the provider refused the user's token; access was revoked"), err)
	default:
		log.WarnContext(ctx, "pull failed", "err", err, "stored", counts.Stored, "attempt", job.Attempt)
		if job.Attempt >= job.MaxAttempts {
			if ferr := w.finishBackfill(ctx, job, u, counts); ferr != nil {
				log.ErrorContext(ctx, "backfill progress", "err", ferr)
			}
		}
		return fmt.Errorf("pull %s for %s: %w", a.DataType, u.ID, err)
	}
}

func (w *pullWorker) event(ctx context.Context, u store.User, typ string, body any) error {
	return w.r.store.InTx(ctx, func(tx *store.Tx) error { return pipeline.AppendUserEvent(ctx, tx, u, typ, body) })
}

// disconnect deactivates u with an event and cancels the job.
func (w *pullWorker) disconnect(ctx context.Context, u store.User, typ string, body any, cause error) error {
	err := w.r.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Deauthenticate(ctx, u.ID); err != nil {
			return err
		}
		u.Active = false
		return pipeline.AppendUserEvent(ctx, tx, u, typ, body)
	})
	if err != nil {
		return err
	}
	return river.JobCancel(cause)
}

// finishBackfill counts a finished backfill pull and sends
// large_request_sending when it was the last.
func (w *pullWorker) finishBackfill(ctx context.Context, job *river.Job[PullArgs], u store.User, c pipeline.Counts) error {
	if !job.Args.Backfill {
		return nil
	}
	return w.r.store.InTx(ctx, func(tx *store.Tx) error {
		b, last, err := tx.FinishBackfillPull(ctx, u.ID, c.Stored)
		if err != nil {
			return err
		}
		if last {
			return pipeline.AppendUserEvent(ctx, tx, u, "large_request_sending", pipeline.BackfillDone(u, backfillRef(u), b.Records))
		}
		return nil
	})
}

// PollArgs is the periodic job that enqueues a pull of the recent window
// for every active user of every pulled provider.
type PollArgs struct{}

// Kind is the River job kind.
func (PollArgs) Kind() string { return "poll" }

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	r *Runner
}

func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	end := w.r.cfg.Now().UTC()
	start := end.Add(-w.r.cfg.PollWindow)
	for _, name := range w.r.providers.Names() {
		p, _ := w.r.providers.Get(name)
		puller, ok := p.(source.Puller)
		if !ok {
			continue
		}
		users, err := w.r.store.ActiveUsers(ctx, name)
		if err != nil {
			return err
		}
		for _, u := range users {
			for _, t := range puller.PullTypes() {
				if _, err := w.r.q.Insert(ctx, PullArgs{UserID: u.ID, DataType: t, Start: start, End: end}, nil); err != nil {
					return fmt.Errorf("poll: enqueue: %w", err)
				}
			}
		}
	}
	return nil
}

// warnOnly passes on River's warnings and errors only: its info lines (job
// counts every few seconds) would drown ours.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(as)} }

func (h warnOnly) WithGroup(name string) slog.Handler { return warnOnly{h.Handler.WithGroup(name)} }
