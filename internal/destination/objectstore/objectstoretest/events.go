// Package objectstoretest is the conformance suite of the object-storage
// destination kinds (s3, gcs, azure_blob): one set of tests, run by each
// kind's tests against its real (emulated) server.
package objectstoretest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Envelopes copied from the bodies `go run ./cmd/wearbridge demo --out DIR`
// delivered: a WHOOP sleep (194.json), an Oura daily (94.json), a Garmin
// body composition (4.json), two Withings measure groups taken at the same
// instant (137.json, 139.json) and a Garmin auth event (3.json).
const (
	sleepBody    = `{"type":"sleep","user":{"user_id":"d44c6164-71ec-4a83-9179-69c6afedb98b","provider":"WHOOP","created_at":"2026-12-03T17:34:17.277000+00:00","last_webhook_update":"2026-12-03T17:34:23.539101+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true},"data":[{"metadata":{"end_time":"2022-04-24T05:25:44.774000-05:00","is_nap":false,"start_time":"2022-04-23T21:25:44.774000-05:00","summary_id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","upload_type":2},"respiration_data":{"breaths_data":{"avg_breaths_per_min":16.11328125,"start_time":"2022-04-23T21:25:44.774000-05:00","end_time":"2022-04-24T05:25:44.774000-05:00"}},"scores":{"sleep":98},"sleep_durations_data":{"asleep":{"duration_asleep_state_seconds":27415.794,"duration_deep_sleep_state_seconds":6630.37,"duration_light_sleep_state_seconds":14905.851,"duration_REM_sleep_state_seconds":5879.573},"awake":{"duration_awake_state_seconds":1403.507,"num_wakeup_events":12},"other":{"duration_in_bed_seconds":30272.735,"duration_unmeasurable_sleep_seconds":0},"sleep_efficiency":91.69533848}}],"version":"2022-03-16"}`
	dailyBody    = `{"type":"daily","user":{"user_id":"c32ee765-fbd2-4880-80f3-7ae848de6afd","provider":"OURA","created_at":"2026-12-03T17:34:16.937000+00:00","last_webhook_update":"2026-12-03T17:34:17.659172+00:00","reference_id":"demo-oura","active":true},"data":[{"metadata":{"end_time":"2024-11-13T00:00:00.000000+01:00","start_time":"2024-11-12T00:00:00.000000+01:00","upload_type":1},"oxygen_data":{"avg_saturation_percentage":96.153},"scores":{"recovery":87,"sleep":83}}],"version":"2022-03-16"}`
	garminBody   = `{"type":"body","user":{"user_id":"e7e8bb51-582a-487e-bf79-56484dc74c43","provider":"GARMIN","created_at":"2026-12-03T17:34:16.920000+00:00","last_webhook_update":"2026-12-03T17:34:16.920921+00:00","scopes":"PARTNER_WRITE,PARTNER_READ,CONNECT_READ,CONNECT_WRITE","reference_id":"demo-garmin","active":true},"data":[{"measurements_data":{"measurements":[{"measurement_time":"2020-07-03T16:00:00.000000+01:00","BMI":23.2,"bodyfat_percentage":17.1,"weight_kg":75.45,"bone_mass_g":2437,"muscle_mass_g":25478,"water_percentage":59.4}]},"metadata":{"end_time":"2020-07-03T16:00:00.000000+01:00","start_time":"2020-07-03T16:00:00.000000+01:00"}}],"version":"2022-03-16"}`
	withingsBody = `{"type":"body","user":{"user_id":"b66c57d4-600c-459c-9a9f-770d00283541","provider":"WITHINGS","created_at":"2026-12-03T17:34:17.307000+00:00","last_webhook_update":"2026-12-03T17:34:18.231124+00:00","scopes":"user.metrics,user.activity","reference_id":"demo-withings","active":true},"data":[{"device_data":{"manufacturer":"Withings","name":"Body Scan"},"hydration_data":{"hydration_amount_samples":[{"timestamp":"2024-01-24T17:12:06.000000-08:00","hydration_kg":51.78}]},"measurements_data":{"measurements":[{"measurement_time":"2024-01-24T17:12:06.000000-08:00","BMR":2238,"bodyfat_percentage":19.377,"weight_kg":94.804,"bone_mass_g":3770,"muscle_mass_g":72650,"lean_mass_g":76430,"visceral_fat_level":3.2}]},"metadata":{"end_time":"2024-01-24T17:12:06.000000-08:00","start_time":"2024-01-24T17:12:06.000000-08:00"}}],"version":"2022-03-16"}`
	pwvBody      = `{"type":"body","user":{"user_id":"b66c57d4-600c-459c-9a9f-770d00283541","provider":"WITHINGS","created_at":"2026-12-03T17:34:17.307000+00:00","last_webhook_update":"2026-12-03T17:34:18.231124+00:00","scopes":"user.metrics,user.activity","reference_id":"demo-withings","active":true},"data":[{"device_data":{"manufacturer":"Withings","name":"Body Scan"},"heart_data":{"pulse_wave_velocity_samples":[{"timestamp":"2024-01-24T17:12:06.000000-08:00","pulse_wave_velocity_meters_per_second":7.744}]},"metadata":{"end_time":"2024-01-24T17:12:06.000000-08:00","start_time":"2024-01-24T17:12:06.000000-08:00"}}],"version":"2022-03-16"}`
	authBody     = `{"message":"User has successfully authenticated","reference_id":"demo-garmin","status":"success","type":"auth","user":{"user_id":"e7e8bb51-582a-487e-bf79-56484dc74c43","provider":"GARMIN","created_at":"2026-12-03T17:34:16.920000+00:00","scopes":"PARTNER_WRITE,PARTNER_READ,CONNECT_READ,CONNECT_WRITE","reference_id":"demo-garmin","active":true},"version":"2022-03-16"}`
	hcBody       = `{"type":"healthcheck","status":"success","message":"wearbridge destination test","creation_timestamp":"2026-12-03T17:30:00.000000+00:00","version":"2022-03-16"}`
)

// Identities of the envelopes above, read from them and from the fixtures
// by hand.
const (
	whoopUser    = "d44c6164-71ec-4a83-9179-69c6afedb98b" // sleepBody user.user_id
	sleepKey     = "ecfc6a15-4661-442f-a9a4-f160dd7afae8" // sleepBody data[0].metadata.summary_id
	sleepFrom    = "2022-04-23T21:25:44.774-05:00"        // sleepBody data[0].metadata.start_time
	sleepTo      = "2022-04-24T05:25:44.774-05:00"        // sleepBody data[0].metadata.end_time
	ouraUser     = "c32ee765-fbd2-4880-80f3-7ae848de6afd" // dailyBody user.user_id
	dailyKey     = "2024-11-12"                           // the day of dailyBody data[0].metadata.start_time
	dailyFrom    = "2024-11-12T00:00:00+01:00"            // dailyBody data[0].metadata.start_time
	dailyTo      = "2024-11-13T00:00:00+01:00"            // dailyBody data[0].metadata.end_time
	garminUser   = "e7e8bb51-582a-487e-bf79-56484dc74c43" // garminBody, authBody user.user_id
	garminKey    = "bodycomp:13896336"                    // "bodycomp:" + summaryId in sandbox/fixtures/garmin/push_body_comps.json
	garminAt     = "2020-07-03T16:00:00+01:00"            // garminBody data[0].metadata.start_time (measurementTimeInSeconds 1593788400)
	withingsUser = "b66c57d4-600c-459c-9a9f-770d00283541" // withingsBody user.user_id
	weightKey    = "5199031731"                           // grpid of the date-1706145126 group with weight 94804 in sandbox/fixtures/withings/measuregrps_list.json
	pwvKey       = "5199031740"                           // grpid of the date-1706145126 group with type 91 (PWV 7744) there
	withingsAt   = "2024-01-24T17:12:06-08:00"            // withingsBody data[0].metadata.start_time (date 1706145126)
	created      = "2026-12-03T17:30:00Z"                 // when the test events were "appended"
)

// Object names of the events above, worked out by hand from the layout:
// start times in UTC, ':' in a record key written as ~3A.
const (
	sleepName    = "2022-03-16/sleep/" + whoopUser + "-20220424T022544Z-" + sleepKey + ".json"
	dailyName    = "2022-03-16/daily/" + ouraUser + "-20241111T230000Z-2024-11-12.json"
	garminName   = "2022-03-16/body/" + garminUser + "-20200703T150000Z-bodycomp~3A13896336.json"
	weightName   = "2022-03-16/body/" + withingsUser + "-20240125T011206Z-5199031731.json"
	pwvName      = "2022-03-16/body/" + withingsUser + "-20240125T011206Z-5199031740.json"
	authName     = "2022-03-16/auth/" + garminUser + "-20261203T173000Z-dlv_auth_1.json"
	hcName       = "2022-03-16/healthcheck/20261203T173000Z-healthcheck-abc.json"
	sleepMovedTo = "2022-03-16/sleep/" + whoopUser + "-20220424T023044Z-" + sleepKey + ".json" // 5 minutes later
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sleepEvent is the WHOOP sleep at version v; v2 and later carry a sleep
// score of 97+v instead of 98, so versions are told apart by content.
func sleepEvent(t testing.TB, v int) destination.Event {
	body := sleepBody
	if v > 1 {
		body = strings.Replace(body, `"scores":{"sleep":98}`, fmt.Sprintf(`"scores":{"sleep":%d}`, 97+v), 1)
	}
	return destination.Event{
		Seq: int64(10 + v), DeliveryID: fmt.Sprintf("dlv_sleep_v%d", v), Type: "sleep",
		UserID: whoopUser, Provider: "WHOOP", RecordKey: sleepKey, Version: v,
		Start: mustTime(t, sleepFrom), End: mustTime(t, sleepTo),
		CreatedAt: mustTime(t, created).Add(time.Duration(v) * time.Minute), Body: json.RawMessage(body),
	}
}

func dailyEvent(t testing.TB) destination.Event {
	return destination.Event{
		Seq: 20, DeliveryID: "dlv_daily_1", Type: "daily", UserID: ouraUser, Provider: "OURA",
		RecordKey: dailyKey, Version: 1, Start: mustTime(t, dailyFrom), End: mustTime(t, dailyTo),
		CreatedAt: mustTime(t, created), Body: json.RawMessage(dailyBody),
	}
}

func garminEvent(t testing.TB) destination.Event {
	return destination.Event{
		Seq: 21, DeliveryID: "dlv_body_garmin", Type: "body", UserID: garminUser, Provider: "GARMIN",
		RecordKey: garminKey, Version: 1, Start: mustTime(t, garminAt), End: mustTime(t, garminAt),
		CreatedAt: mustTime(t, created), Body: json.RawMessage(garminBody),
	}
}

// withingsEvents are two records of one user with the same start.
func withingsEvents(t testing.TB) []destination.Event {
	at := mustTime(t, withingsAt)
	return []destination.Event{
		{Seq: 22, DeliveryID: "dlv_body_weight", Type: "body", UserID: withingsUser, Provider: "WITHINGS",
			RecordKey: weightKey, Version: 1, Start: at, End: at, CreatedAt: mustTime(t, created), Body: json.RawMessage(withingsBody)},
		{Seq: 23, DeliveryID: "dlv_body_pwv", Type: "body", UserID: withingsUser, Provider: "WITHINGS",
			RecordKey: pwvKey, Version: 1, Start: at, End: at, CreatedAt: mustTime(t, created), Body: json.RawMessage(pwvBody)},
	}
}

func authEvent(t testing.TB) destination.Event {
	return destination.Event{
		Seq: 1, DeliveryID: "dlv_auth_1", Type: "auth", UserID: garminUser, Provider: "GARMIN",
		CreatedAt: mustTime(t, created), Body: json.RawMessage(authBody),
	}
}

func healthcheckEvent(t testing.TB) destination.Event {
	return destination.Event{
		DeliveryID: "healthcheck-abc", Type: "healthcheck", CreatedAt: mustTime(t, created),
		Body: json.RawMessage(hcBody),
	}
}
