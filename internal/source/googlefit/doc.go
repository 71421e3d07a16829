// Package googlefit is the Google Fit provider (Terra name "GOOGLE"): OAuth
// 2.0 settings, a client for the Fitness REST API v1 and the mappers from
// Google Fit data points, sessions and aggregate buckets to Terra v2
// records. Google Fit has no push: every data type is pulled.
//
// # Deprecation
//
// Google is winding the Fitness REST API down (no new developer sign-ups
// since 1 May 2024; the API's pages announce its turndown in favour of
// Health Connect on Android and the Google Health API). Everything
// Google-Fit-specific therefore stays behind the source.OAuth and
// source.Puller seams, so a Health API provider can replace this package
// without the core noticing.
//
// # What is pulled for each Terra data type
//
//   - activity: sessions (GET users/me/sessions, every type but sleep), one
//     Activity per session keyed by the session id, with steps, distance
//     and calories from dataset:aggregate bucketBySession; plus the segments
//     of the merged activity-segment stream
//     (derived:com.google.activity.segment:com.google.android.gms:merge_activity_segments)
//     that no session covers, one Activity per segment. Segments of the
//     types still (3), unknown (4) and tilting (5) are the background of a
//     day, not activities, and are not mapped; sleep types go to sleep.
//     Heart rate samples from the merged heart-rate stream are attached.
//   - sleep: sleep sessions (activityType 72), one Sleep per session keyed by
//     its id; and nights recorded the older way, as runs of sleep-type
//     activity segments (72 sleeping, 109 light, 110 deep, 111 REM, 112
//     awake) that no sleep session covers. The hypnogram comes from the
//     merged sleep-stage stream (com.google.sleep.segment: 1 awake, 2
//     sleeping, 3 out of bed, 4 light, 5 deep, 6 REM, which are Terra's
//     SleepLevel numbers) or, failing that, from the legacy segments. A
//     night with no stage data at all is taken as asleep throughout, as
//     Google Fit shows it. A sleep session lying wholly inside another is
//     not a second night.
//   - daily: dataset:aggregate bucketByTime of one day over steps, distance,
//     calories expended, move minutes and heart rate; one Daily per day
//     with data, keyed by the day.
//   - body: the merged weight and heart-rate streams, one Body per day
//     holding that day's weight measurements and heart-rate samples, keyed
//     by the day.
//
// Records keyed by a segment (which has no id of its own) use
// "segment:<startTimeNanos>:<originDataSourceId>": the origin point's start
// does not move when Google re-merges the stream, so a re-sync updates the
// record.
//
// # Time zone
//
// Google Fit stores instants (epoch nanoseconds or milliseconds) and no
// zone or offset, and the API has no profile with one. The user's zone is
// therefore unknown and every record is written in UTC ("+00:00"): days
// (Daily, Body) are UTC days, a night's day is the UTC date on which it
// ends, an activity's day the UTC date on which it starts. The host's zone
// is never used.
//
// # Limits
//
// dataset:aggregate refuses long spans ("aggregate duration too large",
// reported by users for spans of a few months with daily buckets; Google
// does not document the bound), so every pull is split into windows of
// at most 28 days, asked for with a day of margin. Dataset reads page
// backwards from the end of the range (limit, pageToken, nextPageToken;
// developers.google.com/fit/rest/v1/reference/users/dataSources/datasets/get).
// A session list with a time range is one answer: Google ignores pageToken
// when startTime or endTime is set and its nextPageToken is then a sync
// token, not a page (users/sessions/list), so it is not followed.
//
// Errors: 401 is source.ErrUnauthorized; 429, and 403 with reason
// rateLimitExceeded, userRateLimitExceeded, quotaExceeded or
// dailyLimitExceeded, are a *source.RateLimitError whose RetryAfter is
// Google's Retry-After or, when Google sends none (usual), one minute, the
// period of the Fitness API's per-user quotas. A data source the user has
// never written (400 "datasource not found") is an empty stream; one the
// token may not read (403 forbidden, e.g. a scope the user declined) is a
// model.Problem and the other streams are still read.
//
// # History
//
// Google Fit keeps a user's data until the user deletes it; the API
// documents no limit on how far back it can be read. BackfillDepth
// defaults to 28 days and is not capped.
package googlefit
