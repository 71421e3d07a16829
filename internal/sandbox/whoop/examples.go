package whoop

// The shared WHOOP fixtures (internal/sandbox/fixtures/whoop) hold cycles,
// recoveries and sleeps only. For the two other v2 resources the fake
// serves the WHOOP v2 OpenAPI reference's documented example values,
// assembled field by field the way the fixtures were (the spec as copied
// at github.com/api-evangelist/whoop @ 19793ec4: openapi/_original/
// whoop-openapi.yml, schemas WorkoutV2 with WorkoutScore and ZoneDurations,
// and UserBodyMeasurement). No value is invented; like the fixtures they
// are documented examples, not a recording.

// exampleWorkout is one WorkoutV2 from the spec's examples.
const exampleWorkout = `{
  "id": "ecfc6a15-4661-442f-a9a4-f160dd7afae8",
  "v1_id": 1043,
  "user_id": 9012,
  "created_at": "2022-04-24T11:25:44.774Z",
  "updated_at": "2022-04-24T14:25:44.774Z",
  "start": "2022-04-24T02:25:44.774Z",
  "end": "2022-04-24T10:25:44.774Z",
  "timezone_offset": "-05:00",
  "sport_name": "running",
  "score_state": "SCORED",
  "score": {
    "strain": 8.2463,
    "average_heart_rate": 123,
    "max_heart_rate": 146,
    "kilojoule": 1569.34033203125,
    "percent_recorded": 100.0,
    "distance_meter": 1772.77035916,
    "altitude_gain_meter": 46.64384460449,
    "altitude_change_meter": -0.781372010707855,
    "zone_durations": {
      "zone_zero_milli": 300000,
      "zone_one_milli": 600000,
      "zone_two_milli": 900000,
      "zone_three_milli": 900000,
      "zone_four_milli": 600000,
      "zone_five_milli": 300000
    }
  },
  "sport_id": 1
}`

// exampleBodyMeasurement is the spec's UserBodyMeasurement example.
const exampleBodyMeasurement = `{
  "height_meter": 1.8288,
  "weight_kilogram": 90.7185,
  "max_heart_rate": 200
}`

// DocumentedWorkout returns the documented workout example the fake serves
// (see the comment above), for tests that map it.
func DocumentedWorkout() []byte { return []byte(exampleWorkout) }

// DocumentedBodyMeasurement returns the documented body measurement example
// the fake serves.
func DocumentedBodyMeasurement() []byte { return []byte(exampleBodyMeasurement) }
