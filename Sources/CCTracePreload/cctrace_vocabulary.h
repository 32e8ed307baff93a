/* cctrace's trace vocabulary for the preload shim. Generated from
 * Sources/CCTraceFormat/TraceVocabulary.swift — do not edit; `CCTRACE_UPDATE_GOLDEN=1 swift test
 * --filter Vocabulary` rewrites it, and a test fails while it differs. */
#ifndef CCTRACE_VOCABULARY_H
#define CCTRACE_VOCABULARY_H

#define CCTRACE_VERSION "0.1.0-preload"
#define CCTRACE_CAT_CPU "cctrace.cpu"
#define CCTRACE_CAT_LOCK "cctrace.lock"
#define CCTRACE_CAT_PRELOAD "cctrace.preload"
#define CCTRACE_CAT_SESSION "cctrace.session"
#define CCTRACE_EV_SESSION "cctrace.session"
#define CCTRACE_EV_SESSION_END "cctrace.session_end"
#define CCTRACE_EV_CPU_PREFIX "cpu "
#define CCTRACE_EV_POLLS_PREFIX "polls "
#define CCTRACE_EV_LOCK_WAIT "lock wait"
#define CCTRACE_EV_THREAD_EXIT "thread exit"
#define CCTRACE_EV_PROCESS_NAME "process_name"
#define CCTRACE_EV_THREAD_NAME "thread_name"
#define CCTRACE_ARG_LOCK "lock"
#define CCTRACE_ARG_LOCK_ID "lock_id"
#define CCTRACE_ARG_OWNER_TID "owner_tid"
#define CCTRACE_ARG_FRAMES "frames"
#define CCTRACE_ARG_LOCATIONS "locations"
#define CCTRACE_ARG_RUNNING_PCT "running_pct"
#define CCTRACE_ARG_RUNNABLE_PCT "runnable_pct"
#define CCTRACE_ARG_CALLS "calls"
#define CCTRACE_ARG_FD "fd"
#define CCTRACE_ARG_KIND "kind"
#define CCTRACE_ARG_NAME "name"
#define CCTRACE_KEY_VERSION "cctrace_version"
#define CCTRACE_KEY_CORES "cores"
#define CCTRACE_KEY_CLOCK "clock"
#define CCTRACE_KEY_LANGUAGE "language"
#define CCTRACE_KEY_EXECUTABLE "executable"
#define CCTRACE_KEY_COMMAND_LINE "command_line"
#define CCTRACE_KEY_START_TS "start_ts"
#define CCTRACE_KEY_END_TS "end_ts"
#define CCTRACE_KEY_REASON "reason"

#endif
