'use strict';

const { url, seg, create } = require('./api');
const { throwFor } = require('./middleware');

// REST-hook subscriptions (`/v1/hooks`, SPEC §9): Zapier calls subscribe when
// a Zap is turned on and keeps the answer as `bundle.subscribeData`.
const subscribe = (event) => async (z, bundle) => create(z, '/v1/hooks', { target_url: bundle.targetUrl, event });

const unsubscribe = async (z, bundle) => {
  const id = bundle.subscribeData && bundle.subscribeData.id;
  if (!id) {
    throw new z.errors.Error('This Zap holds no hook subscription to remove.', 'no_subscription', 400);
  }
  const response = await z.request({ url: url(`/v1/hooks/${seg(id)}`), method: 'DELETE', skipThrowForStatus: true });
  // 404: the hook is gone already (deleted by an admin, or after a 410):
  // turning the Zap off succeeds.
  if (response.status >= 400 && response.status !== 404) {
    throwFor(response, z);
  }
  return {};
};

// A delivery's body is `{id, type, created_at, data}`; `data` is the resource
// exactly as `GET` returns it. Anything else (another event type, a request
// without `data`) triggers nothing.
const eventData = (bundle, event) => {
  const body = bundle.cleanedRequest || {};
  if (body.type !== event || !body.data || typeof body.data !== 'object') {
    return null;
  }
  return body.data;
};

module.exports = { subscribe, unsubscribe, eventData };
