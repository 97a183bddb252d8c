'use strict';

// The HTTP middleware of every request the app makes: the key goes in as a
// Bearer token, and keyward's problem+json errors (RFC 9457) become the
// errors Zapier knows how to show and act on.

// beforeRequest: authenticate, and let `afterResponse` see 429s first (core
// would otherwise throw its own ThrottledError without keyward's detail).
const includeApiKey = (request, z, bundle) => {
  const key = bundle.authData && bundle.authData.api_key;
  if (key) {
    request.headers = request.headers || {};
    request.headers.Authorization = `Bearer ${String(key).trim()}`;
  }
  request.throwForThrottlingEarly = false;
  return request;
};

const problemOf = (response) => {
  if (response.data && typeof response.data === 'object') {
    return response.data;
  }
  try {
    const parsed = JSON.parse(response.content);
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch (_) {
    return {};
  }
};

// `Retry-After` is delta seconds in keyward; an HTTP date is accepted too.
const retryAfterSeconds = (response) => {
  const raw = response.headers && response.headers.get('retry-after');
  if (!raw) {
    return null;
  }
  if (/^\d+$/.test(raw.trim())) {
    return parseInt(raw, 10);
  }
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
};

// keyward names fields by their JSON path (`participant.name`,
// `segments[0].end_ms`); a Zap's user knows the action's input fields.
const zapField = (field) => {
  const f = String(field || '');
  if (f === 'participant.name') return 'participant_name';
  if (f === 'participant.email') return 'participant_email';
  const seg = /^segments\[(\d+)\]\.(\w+)$/.exec(f);
  if (seg) return `segments line ${Number(seg[1]) + 1} ${seg[2]}`;
  return f || '(body)';
};

const fieldsMessage = (problem) => {
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  if (errors.length === 0) {
    return problem.detail || 'the request has invalid fields';
  }
  const parts = errors.map((e) => `${zapField(e.field)}: ${e.message || e.code}`);
  return `Invalid input: ${parts.join('; ')}`;
};

const withRef = (message, problem, response) => {
  const id = problem.request_id || (response.headers && response.headers.get('x-request-id'));
  return id ? `${message} (request ${id})` : message;
};

// Seconds Zapier waits before retrying after a 5xx without `Retry-After`.
const SERVER_ERROR_RETRY_SECONDS = 60;

// afterResponse: runs before core's throwForStatus.
// A request made with `skipThrowForStatus` handles its own statuses (and
// may call this itself for the ones it does not expect).
const handleErrors = (response, z) => {
  const status = response.status;
  if (status < 400 || response.skipThrowForStatus) {
    return response;
  }
  return throwFor(response, z);
};

// keyward's problem+json as the error Zapier should show or act on.
const throwFor = (response, z) => {
  const status = response.status;
  const problem = problemOf(response);
  const detail = problem.detail || problem.title || `HTTP ${status}`;
  const code = problem.code || `http_${status}`;

  if (status === 401) {
    // The key was revoked, expired, is unknown or is used from an address
    // outside its allowlist: the connection must be fixed or reconnected
    // (custom auth has nothing to refresh).
    throw new z.errors.ExpiredAuthError(withRef(`${detail} [${code}]`, problem, response));
  }
  if (status === 429) {
    const delay = retryAfterSeconds(response);
    const wait = delay === null ? '' : `; retry after ${delay} s`;
    throw new z.errors.ThrottledError(withRef(`${detail} [${code}]${wait}`, problem, response), delay);
  }
  if (status === 422) {
    throw new z.errors.Error(withRef(fieldsMessage(problem), problem, response), code, status);
  }
  if (status >= 500) {
    // Temporary on keyward's side: a ThrottledError makes Zapier try again
    // later instead of failing the run.
    const delay = retryAfterSeconds(response);
    const seconds = delay === null ? SERVER_ERROR_RETRY_SECONDS : delay;
    throw new z.errors.ThrottledError(
      withRef(`keyward answered ${status} (${detail}); Zapier will retry in ${seconds} s`, problem, response),
      seconds,
    );
  }
  // 400, 403 plan_required, 404 not_found, 413, 415: the message says why.
  throw new z.errors.Error(withRef(`${detail} [${code}]`, problem, response), code, status);
};

module.exports = { includeApiKey, handleErrors, throwFor, retryAfterSeconds, zapField, fieldsMessage };
