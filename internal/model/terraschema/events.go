package terraschema

import "fmt"

// EventSchema returns the schema name for a webhook event envelope's type
// and status: "sleep" → "SleepEvent", "auth" with status "success" →
// "AuthSuccessEvent", "auth" with status "error" → "AuthErrorEvent", and
// so on for every *Event.yaml schema (the types are their "type" consts).
//
// AuthErrorEvent.yaml fixes "type" to "auth_cancelled", which is mapped
// too; an {"type": "auth", "status": "error"} body is sent to the same
// schema and so fails its type const.
//
// Event types that Terra documents but publishes no schema for
// (healthcheck, processing, rate_limit_hit, google_no_datasource,
// s3_upload) give an error wrapping ErrUnknownEvent.
func EventSchema(eventType, status string) (string, error) {
	switch eventType {
	case "auth":
		switch status {
		case "success":
			return "AuthSuccessEvent", nil
		case "error":
			return "AuthErrorEvent", nil
		}
		return "", fmt.Errorf("%w: auth with status %q", ErrUnknownEvent, status)
	case "auth_cancelled":
		return "AuthErrorEvent", nil
	case "access_revoked":
		return "AccessRevokedEvent", nil
	case "activity":
		return "ActivityEvent", nil
	case "athlete":
		return "AthleteEvent", nil
	case "body":
		return "BodyEvent", nil
	case "connection_error":
		return "ConnectionErrorEvent", nil
	case "daily":
		return "DailyEvent", nil
	case "deauth":
		return "DeauthEvent", nil
	case "health_observation":
		return "HealthObservationEvent", nil
	case "hormone":
		return "HormoneEvent", nil
	case "lab_report.completed":
		return "LabReportCompletedEvent", nil
	case "lab_report.failed":
		return "LabReportFailedEvent", nil
	case "large_request_processing":
		return "LargeRequestProcessingEvent", nil
	case "large_request_sending":
		return "LargeRequestSendingEvent", nil
	case "menstruation":
		return "MenstruationEvent", nil
	case "nutrition":
		return "NutritionEvent", nil
	case "permission_change":
		return "PermissionChangeEvent", nil
	case "planned_workout":
		return "PlannedWorkoutEvent", nil
	case "s3_payload":
		return "S3PayloadEvent", nil
	case "sleep":
		return "SleepEvent", nil
	case "user_reauth":
		return "UserReauthEvent", nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownEvent, eventType)
}
