/* keyward admin page: progressive enhancement of the server-rendered
 * documents. Vanilla JS, no build step, no inline anything (strict CSP).
 * Without this file the pages still show everything; with it you can sign
 * in, generate, revoke and restrict keys, and filter usage in place. */
(function () {
  'use strict';

  document.documentElement.classList.add('js');

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') : '';
  }

  /* ------------------------------------------------------------ time */

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var serverNow = Number(document.body && document.body.getAttribute('data-now-ms')) || 0;
  var skew = serverNow > 0 ? serverNow - Date.now() : 0;
  function now() { return Date.now() + skew; }

  function formatDate(ms) {
    var d = new Date(ms);
    return MONTHS[d.getUTCMonth()] + ' ' + d.getUTCDate() + ', ' + d.getUTCFullYear();
  }
  /* Same rules as fmt::relative in src/fmt.rs. */
  function relative(ms, nowMs) {
    var d = nowMs - ms;
    if (d < 45000) return 'just now';
    function plural(n, unit) { return n === 1 ? '1 ' + unit + ' ago' : n + ' ' + unit + 's ago'; }
    if (d < HOUR) return plural(Math.max(1, Math.floor(d / MINUTE)), 'minute');
    if (d < DAY) return plural(Math.floor(d / HOUR), 'hour');
    if (d < 30 * DAY) return plural(Math.floor(d / DAY), 'day');
    return 'on ' + formatDate(ms);
  }
  function refreshTimes() {
    var n = now();
    $$('time[data-relative]').forEach(function (t) {
      var ms = Date.parse(t.getAttribute('datetime'));
      if (!isNaN(ms)) t.textContent = relative(ms, n);
    });
  }

  /* ------------------------------------------------------------- DOM */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  var toastTimer = null;
  function toast(msg, isError) {
    var t = $('#toast');
    if (!t) return;
    t.textContent = msg;
    t.classList.toggle('error', !!isError);
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, isError ? 8000 : 4000);
  }

  function showError(box, msg) {
    if (!box) return;
    box.textContent = msg || '';
    box.hidden = !msg;
  }

  /* Shows (or, with '', clears) a message in `box` about `input`, marking it invalid meanwhile. */
  function inputError(input, box) {
    return function (msg) {
      showError(box, msg);
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    };
  }

  /* The start of a dialog form's submit: the trimmed value of its required
   * `input`, with the form's alert `formErr` cleared; null when the dialog is
   * busy or the input is empty (then `missing` is shown at it). */
  function requiredInput(e, dlg, formErr, input, fieldError, missing) {
    e.preventDefault();
    if (dlg.busy) return null;
    var value = input.value.trim();
    showError(formErr, '');
    if (!value) { fieldError(missing); input.focus(); return null; }
    return value;
  }

  /* ------------------------------------------------------------- API */

  function loginUrl() {
    return '/login?next=' + encodeURIComponent(location.pathname + location.search);
  }

  /* Calls the admin API. Resolves with the JSON body (null for 204);
   * rejects with the problem object (plus `status`). */
  /* A call of the admin API (JSON), or with `asHtml` a fragment the server
   * renders (its text); an error answer rejects with its problem. */
  function api(method, url, body, asHtml) {
    var headers = { 'Accept': asHtml ? 'text/html' : 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = meta('csrf-token');
    return fetch(url, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      if (res.status === 204) return null;
      return res.text().then(function (text) {
        if (res.ok && asHtml) return text;
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) return data;
        var problem = data && typeof data === 'object' ? data : {};
        problem.status = res.status;
        if (res.status === 401 && url.indexOf('/api/session') !== 0) {
          location.assign(loginUrl());
        }
        throw problem;
      });
    }, function () {
      throw { status: 0, title: 'Network error', detail: 'Could not reach the server. Check your connection and try again.' };
    });
  }

  function problemMessage(p) {
    var msg;
    if (p.code === 'plan_required') msg = 'API keys need a paid plan. Upgrade the workspace to generate keys.';
    else if (p.code === 'forbidden') msg = 'Only admins can manage API keys.';
    else if (p.status === 401) msg = 'Your session has expired. Sign in again.';
    else if (p.status === 403) msg = p.detail || 'This action was refused. Reload the page and try again.';
    else if (p.status === 404) msg = 'This key no longer exists. Reload the page.';
    else if (p.status === 429) msg = 'Too many requests. Wait a moment and try again.';
    else msg = p.detail || p.title || ('Something went wrong (HTTP ' + p.status + '). Try again.');
    if (p.request_id) msg += ' (Request ID: ' + p.request_id + ')';
    return msg;
  }

  /* A request's failure handler that shows its problem in the dialog's alert `errEl`. */
  function showProblem(errEl) {
    return function (p) { showError(errEl, problemMessage(p)); };
  }

  /* ------------------------------------------------------- dialogs */

  /* Remembers what opened a dialog, so focus can return there on close even
   * when a refresh replaced that element in the meantime. */
  function opener(elm) {
    if (!elm) return null;
    var cls = ['revoke-key', 'edit-ips', 'rotate-key'].filter(function (c) { return elm.classList.contains(c); })[0];
    return { el: elm, keyId: elm.getAttribute('data-key-id'), cls: cls };
  }
  function restoreFocus(o) {
    if (!o) return;
    var target = o.el && o.el.isConnected ? o.el : null;
    if (!target && o.keyId) {
      var row = rowFor(o.keyId);
      if (row) {
        target = (o.cls && $('.' + o.cls, row)) || $('.key-status', row);
        if (target && target.classList.contains('key-status')) target.setAttribute('tabindex', '-1');
      }
    }
    if (!target) target = $('#main');
    if (target) target.focus();
  }
  /* Closing runs `onClose` (e.g. wiping the secret) and returns focus to the
   * opener synchronously; Escape goes through the native `close` event. */
  /* What Tab can reach inside `root`: enabled, not hidden, not tabindex=-1. */
  function tabbables(root) {
    return $$('button, [href], input, select, textarea, [tabindex]', root).filter(function (x) {
      return !x.disabled && x.tabIndex >= 0 && x.type !== 'hidden' && x.getClientRects().length > 0;
    });
  }
  function setupDialog(dlg, onClose) {
    if (!dlg) return;
    dlg.onCleanup = onClose;
    dlg.addEventListener('click', function (e) {
      if (e.target.closest && e.target.closest('[data-close]')) closeDialog(dlg);
    });
    /* Tab and Shift+Tab cycle within the open dialog (WAI-ARIA modal dialog
     * pattern) instead of leaving the document after its last control. */
    dlg.addEventListener('keydown', function (e) {
      if (e.key !== 'Tab' || e.altKey || e.ctrlKey || e.metaKey) return;
      var items = tabbables(dlg);
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = document.activeElement;
      if (e.shiftKey && (active === first || active === dlg)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && active === last) {
        e.preventDefault();
        first.focus();
      }
    });
    dlg.addEventListener('cancel', function (e) {
      if (dlg.busy) e.preventDefault(); /* never lose an in-flight answer (e.g. a new secret) */
      else if (dlg.mayClose && !dlg.mayClose()) e.preventDefault(); /* e.g. a key not copied yet */
      else if (dlg.onCleanup) dlg.onCleanup(); /* Escape: wipe now, not a task later */
    });
    dlg.addEventListener('close', function () {
      if (dlg.onCleanup) dlg.onCleanup();
      var o = dlg.opener;
      dlg.opener = null;
      if (o) restoreFocus(o);
    });
  }
  function closeDialog(dlg) {
    if (dlg.busy || !dlg.open) return;
    if (dlg.mayClose && !dlg.mayClose()) return;
    var o = dlg.opener;
    dlg.opener = null;
    if (dlg.onCleanup) dlg.onCleanup();
    dlg.close();
    restoreFocus(o);
  }
  function openDialog(dlg, from, focusEl) {
    dlg.opener = opener(from);
    dlg.showModal();
    if (focusEl) focusEl.focus();
  }
  /* `call` (a promise) with the dialog busy and `button` saying `label`
   * until it settles; it resolves or rejects as the call does. */
  function whileBusy(dlg, button, label, call) {
    setBusy(dlg, true, button, label);
    return call.then(function (r) { setBusy(dlg, false, button); return r; },
      function (p) { setBusy(dlg, false, button); throw p; });
  }
  function setBusy(dlg, busy, button, busyLabel) {
    dlg.busy = busy;
    $$('[data-close], #dialog-close', dlg).forEach(function (b) { b.disabled = busy; });
    if (button) {
      if (busy) {
        button.dataset.label = button.textContent;
        button.textContent = busyLabel;
      } else if (button.dataset.label) {
        button.textContent = button.dataset.label;
      }
      button.disabled = busy;
    }
  }

  /* ----------------------------------------------------------- keys */

  var main = $('#main');
  var ws = (main && main.getAttribute('data-workspace-id')) || meta('workspace-id');
  function keysUrl(id, suffix) {
    var u = '/api/workspaces/' + encodeURIComponent(ws) + '/api-keys';
    if (id) u += '/' + encodeURIComponent(id);
    return u + (suffix || '');
  }
  function rowFor(id) {
    return $$('#keys-tbody tr.key-row').filter(function (r) { return r.getAttribute('data-key-id') === id; })[0] || null;
  }

  /* Puts the server's rendering of key `id`'s row in place (GET
   * /settings/api-keys/rows/{id}: keys::key_row, the markup the page has),
   * or first in the table for a key just made. */
  function showRow(id, isNew) {
    var url = '/settings/api-keys/rows/' + encodeURIComponent(id) + '?workspace=' + encodeURIComponent(ws);
    return api('GET', url, undefined, true)
      .then(function (html) {
        var tbody = $('#keys-tbody'), row = $('tr.key-row', fragment(html));
        if (!tbody || !row) return;
        if (isNew) row.classList.add('is-new');
        var old = rowFor(id), empty = $('.empty-row', tbody);
        if (empty) empty.remove();
        keepingFocus(old || tbody, function () {
          if (old) old.replaceWith(row); else tbody.insertBefore(row, tbody.firstChild);
        });
        var count = $('#keys-heading .count');
        if (count) count.textContent = String($$('tr.key-row', tbody).length);
      })
      .catch(function () { /* refresh() brings it */ });
  }

  /* The elements of server-rendered `html` (table rows and sections too). */
  function fragment(html) {
    var t = document.createElement('template');
    t.innerHTML = html;
    return t.content;
  }

  /* Clicks on a key's `.cls` button: names the key in `nameEl` and calls
   * `open(keyId, its row or null, the button)`. */
  function onRowButton(cls, nameEl, open) {
    document.addEventListener('click', function (e) {
      var b = e.target.closest && e.target.closest('.' + cls);
      if (!b) return;
      var row = b.closest('tr'), id = b.getAttribute('data-key-id');
      nameEl.textContent = row ? row.getAttribute('data-key-name') : id;
      open(id, row, b);
    });
  }

  /* Runs `replace`, which swaps `container` for fresh markup, keeping focus
   * on the same control of the same key's row when it was inside. */
  function keepingFocus(container, replace) {
    var active = document.activeElement, keep = null;
    if (active && container.contains(active)) {
      var r = active.closest('tr');
      keep = opener(active);
      if (keep) { keep.el = null; keep.keyId = r && r.getAttribute('data-key-id'); }
    }
    replace();
    if (keep) restoreFocus(keep);
  }

  /* Re-reads the page and swaps in the fresh keys table and usage section:
   * the server's rendering stays the single source of truth. */
  var refreshing = false, refreshAgain = false;
  function refresh() {
    if (refreshing) { refreshAgain = true; return; } /* re-read after the current one: never swap in stale rows */
    refreshing = true;
    fetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } })
      .then(function (res) {
        if (!res.ok || /\/login$/.test(new URL(res.url, location.href).pathname)) return;
        return res.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          swapKeys(doc);
          swapHooks(doc);
          swapUsage(doc);
          var filter = $('#usage-key-filter'), fresh = $('#usage-key-filter', doc);
          if (filter && fresh) {
            var v = filter.value;
            filter.innerHTML = fresh.innerHTML;
            filter.value = v;
          }
        });
      })
      .catch(function () { /* keep what is shown */ })
      .then(function () {
        refreshing = false;
        if (refreshAgain) { refreshAgain = false; refresh(); }
      });
  }

  function swapKeys(doc) {
    var tbody = $('#keys-tbody'), fresh = $('#keys-tbody', doc);
    if (!tbody || !fresh) return;
    keepingFocus(tbody, function () { tbody.replaceWith(document.importNode(fresh, true)); });
    var count = $('#keys-heading .count'), freshCount = $('#keys-heading .count', doc);
    if (count && freshCount) count.textContent = freshCount.textContent;
  }

  function swapUsage(doc) {
    var body = $('#usage-body'), fresh = $('#usage-body', doc);
    if (!body || !fresh) return;
    var range = $('input[name="chart-range"]:checked', body);
    var value = range ? range.value : '24h';
    var focusedId = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.replaceWith(document.importNode(fresh, true));
    setRange(value);
    if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
  }

  function setRange(value) {
    var input = $('#chart-range-' + value);
    if (input) input.checked = true;
    var card = $('#usage-chart');
    if (card) card.classList.toggle('show-7d', value === '7d');
  }

  /* ------------------------------------------------------- generate */

  /* The scopes of a read-only key (keyward_core::Scopes::READ_ONLY). */
  var READ_ONLY = ['studies:read', 'transcripts:read'];

  function initGenerate() {
    var btn = $('#generate-key'), dlg = $('#generate-dialog');
    if (!btn || !dlg) return;
    var form = $('#create-key-form'), step2 = $('#created-key-step');
    var name = $('#key-name'), nameErr = $('#key-name-error'), formErr = $('#create-key-error');
    var submit = $('#create-key-submit'), secret = $('#new-key-secret');
    var copy = $('#copy-key'), copyStatus = $('#copy-status'), createdName = $('#created-key-name');
    var expiry = $('#key-expiry'), expiryCustom = $('#key-expiry-custom-field'), expiryDays = $('#key-expiry-days');
    var expiryErr = $('#key-expiry-error'), scopesBox = $('#key-scopes'), scopesErr = $('#key-scopes-error');
    function accessValue() {
      var r = $('input[name="access"]:checked', form);
      return r ? r.value : 'full';
    }
    function syncLifecycle() {
      expiryCustom.hidden = expiry.value !== 'custom';
      scopesBox.hidden = accessValue() !== 'custom';
    }
    function lifecycleError(box, input, msg) {
      showError(box, msg);
      if (!input) return;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    }
    expiry.addEventListener('change', function () {
      syncLifecycle();
      if (expiry.value === 'custom') expiryDays.focus();
    });
    $$('input[name="access"]', form).forEach(function (r) { r.addEventListener('change', syncLifecycle); });
    /* The create body's lifecycle part, or null after showing what is wrong. */
    function lifecycleBody() {
      var out = {};
      lifecycleError(expiryErr, expiryDays, '');
      lifecycleError(scopesErr, null, '');
      if (expiry.value === 'custom') {
        var d = Number(expiryDays.value);
        if (!/^\d+$/.test(expiryDays.value.trim()) || d < 1 || d > 365) {
          lifecycleError(expiryErr, expiryDays, 'Enter a whole number of days from 1 to 365.');
          expiryDays.focus();
          return null;
        }
        out.expires_in_days = d;
      } else if (expiry.value) {
        out.expires_in_days = Number(expiry.value);
      }
      var access = accessValue();
      if (access === 'read') out.scopes = READ_ONLY.slice();
      if (access === 'custom') {
        out.scopes = $$('input[name="scope"]:checked', scopesBox).map(function (c) { return c.value; });
        if (!out.scopes.length) {
          lifecycleError(scopesErr, null, 'Choose at least one scope, or Full access.');
          var first = $('input[name="scope"]', scopesBox);
          if (first) first.focus();
          return null;
        }
      }
      return out;
    }

    var dup = $('#key-name-duplicate');
    var once = onceSecret(dlg, form, step2, secret, copy, copyStatus, function () { reset(); });

    /* A name another key already has is allowed, but said. */
    function checkDuplicate() {
      var v = name.value.trim().toLowerCase();
      var same = v && $$('#keys-tbody tr.key-row').filter(function (r) {
        return (r.getAttribute('data-key-name') || '').trim().toLowerCase() === v;
      });
      if (same && same.length) {
        dup.textContent = 'Another key is already named “' + name.value.trim() + '”. You can still use the name, ' +
          'but a distinct one makes keys easier to tell apart.';
        dup.hidden = false;
      } else {
        dup.textContent = '';
        dup.hidden = true;
      }
    }

    var fieldError = inputError(name, nameErr);
    function reset() {
      once.reset();
      if (dup) { dup.textContent = ''; dup.hidden = true; }
      createdName.textContent = '';
      fieldError('');
      showError(formErr, '');
      syncLifecycle();
      lifecycleError(expiryErr, expiryDays, '');
      lifecycleError(scopesErr, null, '');
    }

    btn.addEventListener('click', function () {
      reset();
      openDialog(dlg, btn, name);
    });
    name.addEventListener('input', function () { if (!nameErr.hidden) fieldError(''); checkDuplicate(); });

    form.addEventListener('submit', function (e) {
      var value = requiredInput(e, dlg, formErr, name, fieldError, 'Enter a name for the key.');
      if (value === null) return;
      if (Array.from(value).length > 100) { fieldError('Use at most 100 characters.'); name.focus(); return; }
      fieldError('');
      var body = lifecycleBody();
      if (!body) return;
      body.name = value;
      whileBusy(dlg, submit, 'Generating…', api('POST', keysUrl(), body)).then(function (created) {
        createdName.textContent = '“' + created.name + '”';
        once.show(created);
      }, function (p) {
        if (p.status === 422 && Array.isArray(p.errors) && p.errors.length) {
          var of = function (f) { return p.errors.filter(function (x) { return x.field === f; }).map(function (x) { return x.message; }).join(' '); };
          if (of('expires_in_days')) { lifecycleError(expiryErr, expiryDays, 'Expiry ' + of('expires_in_days')); expiry.focus(); return; }
          if (of('scopes')) { lifecycleError(scopesErr, null, of('scopes')); return; }
          var mine = p.errors.filter(function (x) { return x.field === 'name'; });
          fieldError((mine.length ? mine : p.errors).map(function (x) { return x.message; }).join(' '));
          name.focus();
        } else {
          showError(formErr, problemMessage(p));
        }
      });
    });
  }

  /* The once-only secret of the generate and rotate dialogs. Closing before
   * it was copied asks first (the next Escape, Close or Done then closes);
   * `reset` (the dialog's, which calls once.reset()) wipes it from the DOM,
   * also when the page is hidden: never a secret in the back/forward cache. */
  function onceSecret(dlg, form, step, secret, copy, copyStatus, reset) {
    var copied = false, warned = false;
    dlg.mayClose = function () {
      if (step.hidden || !secret.value || copied || warned) return true;
      warned = true;
      copyStatus.classList.remove('ok');
      copyStatus.textContent = 'You have not copied the key yet, and it will not be shown again. ' +
        'Copy it now, or press Escape (or Done) again to close without it.';
      copy.focus();
      return false;
    };
    secret.addEventListener('copy', function () { copied = true; });
    wireCopy(copy, secret, copyStatus, function () { copied = true; });
    setupDialog(dlg, reset);
    window.addEventListener('pagehide', function () {
      reset();
      if (dlg.open) { dlg.opener = null; dlg.close(); }
    });
    return {
      reset: function () {
        copied = false;
        warned = false;
        secret.value = '';
        secret.removeAttribute('value');
        copyStatus.textContent = '';
        copyStatus.classList.remove('ok');
        step.hidden = true;
        form.hidden = false;
        form.reset();
      },
      /* Shows the key just made (its secret, once) and puts its row in the table. */
      show: function (created) {
        form.hidden = true;
        step.hidden = false;
        secret.value = created.key;
        secret.focus();
        secret.select();
        showRow(created.id, true);
        refresh();
      }
    };
  }

  /* A copy-once dialog's Copy button: the clipboard, else select + Ctrl+C. */
  function wireCopy(copy, secret, copyStatus, onCopied) {
    copy.addEventListener('click', function () {
      var value = secret.value;
      function done(ok) {
        copyStatus.classList.toggle('ok', ok);
        if (ok) onCopied();
        copyStatus.textContent = ok ? 'Copied to the clipboard.' : 'Press Ctrl+C (⌘C on a Mac) to copy the selected key.';
        if (!ok) { secret.focus(); secret.select(); }
      }
      function fallback() {
        secret.focus();
        secret.select();
        var ok = false;
        try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
        done(ok);
      }
      if (navigator.clipboard && window.isSecureContext) {
        var settled = false;
        var settle = function (f) { return function () { if (!settled) { settled = true; f(); } }; };
        navigator.clipboard.writeText(value).then(settle(function () { done(true); }), settle(fallback));
        setTimeout(settle(fallback), 1500); /* a permission prompt left open */
      } else {
        fallback();
      }
    });
  }

  /* --------------------------------------------------------- rotate */

  function initRotate() {
    var dlg = $('#rotate-dialog');
    if (!dlg) return;
    var form = $('#rotate-form'), step2 = $('#rotated-key-step'), err = $('#rotate-error');
    var nameEl = $('#rotate-key-name'), submit = $('#rotate-submit'), secret = $('#rotated-key-secret');
    var newName = $('#rotated-key-name'), until = $('#rotated-key-until'), copyStatus = $('#rotated-copy-status');
    var target = null;
    var once = onceSecret(dlg, form, step2, secret, $('#copy-rotated-key'), copyStatus, function () { reset(); });
    function reset() {
      target = null;
      once.reset();
      newName.textContent = '';
      until.textContent = '';
      showError(err, '');
    }

    onRowButton('rotate-key', nameEl, function (id, row, b) {
      reset();
      target = id;
      openDialog(dlg, b, $('input[name="grace"]:checked', form));
    });

    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!target || dlg.busy) return;
      var grace = $('input[name="grace"]:checked', form);
      var id = target, oldName = nameEl.textContent;
      showError(err, '');
      var roll = api('POST', keysUrl(id, '/roll'), { grace_period_secs: Number(grace ? grace.value : 86400) });
      whileBusy(dlg, submit, 'Rotating…', roll).then(function (created) {
        newName.textContent = '“' + created.name + '”';
        until.textContent = grace && grace.value === '0'
          ? '“' + oldName + '” stopped working. Requests using it now get 401.'
          : '“' + oldName + '” keeps working until the grace period ends. Watch its requests fall in the table.';
        dlg.opener = { el: null, keyId: created.id, cls: 'rotate-key' };
        once.show(created);
      }, showProblem(err));
    });
  }

  /* --------------------------------------------------------- revoke */

  function initRevoke() {
    var dlg = $('#revoke-dialog');
    if (!dlg) return;
    var confirm = $('#confirm-revoke'), err = $('#revoke-error'), nameEl = $('#revoke-key-name');
    var target = null;
    setupDialog(dlg, function () { target = null; showError(err, ''); });

    onRowButton('revoke-key', nameEl, function (id, row, b) {
      target = id;
      showError(err, '');
      openDialog(dlg, b, $('.dialog-foot [data-close]', dlg));
    });

    confirm.addEventListener('click', function () {
      if (!target || dlg.busy) return;
      var id = target, name = nameEl.textContent;
      whileBusy(dlg, confirm, 'Revoking…', api('DELETE', keysUrl(id))).then(function () {
        dlg.opener = { el: null, keyId: id, cls: null }; /* focus the row's status */
        closeDialog(dlg);
        showRow(id);
        toast('Key “' + name + '” revoked. Requests using it now get 401.');
        refresh();
      }, showProblem(err));
    });
  }

  /* ----------------------------------------------------- allowed IPs */

  function initAllowedIps() {
    var dlg = $('#ips-dialog');
    if (!dlg) return;
    var form = $('#ips-form'), input = $('#allowed-ips-input'), list = $('#allowed-ips-errors');
    var err = $('#ips-error'), nameEl = $('#ips-key-name'), save = $('#ips-save');
    var target = null;
    function clearErrors() {
      list.textContent = '';
      list.hidden = true;
      input.removeAttribute('aria-invalid');
      showError(err, '');
    }
    setupDialog(dlg, function () { target = null; clearErrors(); });

    onRowButton('edit-ips', nameEl, function (id, row, b) {
      target = id;
      input.value = row ? $$('.cidr-list li', row).map(function (li) { return li.textContent.trim(); }).join('\n') : '';
      clearErrors();
      openDialog(dlg, b, input);
    });

    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!target || dlg.busy) return;
      var entries = [];
      input.value.split(/\r?\n/).forEach(function (line, i) {
        line.split(/[\s,]+/).forEach(function (v) { if (v) entries.push({ value: v, line: i + 1 }); });
      });
      var id = target, name = nameEl.textContent;
      clearErrors();
      var put = api('PUT', keysUrl(id, '/allowed-ips'), { cidrs: entries.map(function (x) { return x.value; }) });
      whileBusy(dlg, save, 'Saving…', put).then(function (key) {
        closeDialog(dlg);
        showRow(id);
        toast(key && key.allowed_cidrs && key.allowed_cidrs.length
          ? 'Key “' + name + '” now accepts requests only from the listed addresses.'
          : 'Key “' + name + '” accepts requests from any address.');
        refresh();
      }, function (p) {
        if (p.status === 422 && Array.isArray(p.errors) && p.errors.length) {
          p.errors.forEach(function (x) {
            var m = /^cidrs\[(\d+)\]$/.exec(x.field || '');
            var entry = m ? entries[Number(m[1])] : null;
            /* The server's message starts with the entry ("\"10.0.0.1/8\": host bits set"): name it once. */
            var reason = (x.message || '').replace(/^"(?:[^"\\]|\\.)*":\s*/, '') || 'not a valid address or CIDR range';
            var text = entry ? 'Line ' + entry.line + ': “' + entry.value + '”: ' + reason : (x.message || x.code);
            list.appendChild(el('li', null, text));
          });
          list.hidden = false;
          input.setAttribute('aria-invalid', 'true');
          input.focus();
        } else {
          showError(err, problemMessage(p));
        }
      });
    });
  }

  /* -------------------------------------------------------- webhooks */

  function hooksUrl(id) {
    return '/api/workspaces/' + encodeURIComponent(meta('workspace-id')) + '/hooks' + (id ? '/' + encodeURIComponent(id) : '');
  }

  function swapHooks(doc) {
    var tbody = $('#hooks-tbody'), fresh = $('#hooks-tbody', doc);
    if (!tbody || !fresh) return;
    var focused = document.activeElement && tbody.contains(document.activeElement);
    tbody.replaceWith(document.importNode(fresh, true));
    var count = $('#hooks-heading .count'), freshCount = $('#hooks-heading .count', doc);
    if (count && freshCount) count.textContent = freshCount.textContent;
    if (focused) { var h = $('#hooks-heading'); if (h) { h.tabIndex = -1; h.focus(); } }
  }

  function initHooks() {
    document.addEventListener('click', function (e) {
      var b = e.target && e.target.closest ? e.target.closest('.delete-hook') : null;
      if (!b || b.disabled) return;
      if (!window.confirm('Delete this webhook? Its pending deliveries are dropped.')) return;
      b.disabled = true;
      api('DELETE', hooksUrl(b.getAttribute('data-hook-id'))).then(function () {
        toast('Webhook deleted.');
        refresh();
      }, function (p) {
        b.disabled = false;
        toast(problemMessage(p), true);
      });
    });

    var btn = $('#add-hook'), dlg = $('#hook-dialog');
    if (!btn || !dlg) return;
    var form = $('#create-hook-form'), step2 = $('#created-hook-step');
    var url = $('#hook-url'), urlErr = $('#hook-url-error'), formErr = $('#create-hook-error');
    var event = $('#hook-event'), submit = $('#create-hook-submit'), secret = $('#new-hook-secret');
    var fieldError = inputError(url, urlErr);
    function reset() {
      secret.value = '';
      step2.hidden = true;
      form.hidden = false;
      form.reset();
      fieldError('');
      showError(formErr, '');
    }
    setupDialog(dlg, reset); /* closing wipes the secret from the DOM */
    btn.addEventListener('click', function () { reset(); openDialog(dlg, btn, url); });
    window.addEventListener('pagehide', function () { reset(); if (dlg.open) { dlg.opener = null; dlg.close(); } });
    form.addEventListener('submit', function (e) {
      var value = requiredInput(e, dlg, formErr, url, fieldError, 'Enter the URL to send events to.');
      if (value === null) return;
      fieldError('');
      setBusy(dlg, true, submit, 'Adding…');
      api('POST', hooksUrl(), { target_url: value, event: event.value }).then(function (created) {
        setBusy(dlg, false, submit);
        form.hidden = true;
        step2.hidden = false;
        secret.value = created.secret;
        secret.focus();
        secret.select();
        refresh();
      }, function (p) {
        setBusy(dlg, false, submit);
        if (p.status === 422 && Array.isArray(p.errors) && p.errors.length) {
          fieldError(p.errors.map(function (x) { return x.message; }).join(' '));
          url.focus();
        } else {
          showError(formErr, problemMessage(p));
        }
      });
    });
  }

  /* ----------------------------------------------------------- usage */

  function initUsage() {
    var form = $('#usage-filter-form');
    if (form) {
      var select = $('#usage-key-filter');
      select.addEventListener('change', function () {
        var url = new URL(location.href);
        if (select.value) url.searchParams.set('key_id', select.value); else url.searchParams.delete('key_id');
        var body = $('#usage-body');
        if (body) body.setAttribute('aria-busy', 'true');
        fetch(url.toString(), { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } })
          .then(function (res) {
            if (!res.ok) throw new Error(String(res.status));
            return res.text();
          })
          .then(function (html) {
            history.replaceState(null, '', url.toString());
            swapUsage(new DOMParser().parseFromString(html, 'text/html'));
          })
          .catch(function () { form.submit(); });
      });
    }
    document.addEventListener('change', function (e) {
      if (e.target && e.target.name === 'chart-range') setRange(e.target.value);
    });
  }

  /* ---------------------------------------------------------- logout */

  function initLogout() {
    var b = $('#logout');
    if (!b) return;
    b.addEventListener('click', function () {
      b.disabled = true;
      api('DELETE', '/api/session').catch(function () { /* gone either way */ }).then(function () {
        location.assign('/login');
      });
    });
  }

  /* ----------------------------------------------------------- login */

  function safeNext(n) {
    if (typeof n !== 'string' || n.charAt(0) !== '/' || n.charAt(1) === '/' || n.charAt(1) === '\\' || /[\\\u0000-\u001f]/.test(n)) {
      return '/settings/api-keys';
    }
    return n;
  }

  function initLogin() {
    var form = $('#login-form');
    if (!form) return;
    var email = $('#login-email'), pw = $('#login-password'), err = $('#login-error'), submit = $('#login-submit');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (submit.disabled) return;
      var address = email.value.trim();
      email.removeAttribute('aria-invalid');
      pw.removeAttribute('aria-invalid');
      if (!address) { showError(err, 'Enter your email address.'); email.setAttribute('aria-invalid', 'true'); email.focus(); return; }
      if (!pw.value) { showError(err, 'Enter your password.'); pw.setAttribute('aria-invalid', 'true'); pw.focus(); return; }
      showError(err, '');
      submit.disabled = true;
      submit.textContent = 'Signing in…';
      fetch('/api/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify({ email: address, password: pw.value }),
        credentials: 'same-origin'
      }).then(function (res) {
        if (res.ok) {
          location.assign(safeNext($('#login-next').value));
          return;
        }
        var msg;
        if (res.status === 401) {
          msg = 'Incorrect email or password.';
        } else if (res.status === 429) {
          var wait = parseInt(res.headers.get('Retry-After') || '', 10);
          msg = 'Too many attempts. ' + (wait > 0 ? 'Try again in ' + wait + ' seconds.' : 'Wait a minute and try again.');
        } else {
          msg = 'Could not sign in (HTTP ' + res.status + '). Try again.';
        }
        throw new Error(msg);
      }).catch(function (x) {
        var msg = x && x.message && x.name === 'Error' ? x.message : 'Could not reach the server. Check your connection and try again.';
        showError(err, msg);
        submit.disabled = false;
        submit.textContent = 'Sign in';
        pw.value = '';
        pw.focus();
      });
    });
  }

  /* ------------------------------------------------------- audit log */

  function initAudit() {
    var card = $('#audit-log');
    if (!card) return;
    document.addEventListener('click', function (e) {
      var b = e.target.closest && e.target.closest('#audit-older');
      if (!b || b.disabled) return;
      b.disabled = true;
      /* The server renders the older rows (audit::render_rows). */
      var url = '/settings/api-keys/audit-rows?workspace=' + encodeURIComponent(ws) +
        '&starting_after=' + encodeURIComponent(b.getAttribute('data-after'));
      api('GET', url, undefined, true).then(function (html) {
        var page = $('tbody', fragment(html)), rows = page ? $$('tr', page) : [];
        var body = $('#audit-tbody'), first = rows[0] || null;
        rows.forEach(function (tr) { body.appendChild(tr); });
        var last = rows.length ? rows[rows.length - 1].getAttribute('data-audit-id') : null;
        if (page && page.getAttribute('data-has-more') === 'true' && last) {
          b.setAttribute('data-after', last);
          b.disabled = false;
        } else {
          b.parentNode.remove();
          var focusEl = first && $('td', first);
          if (focusEl) { focusEl.setAttribute('tabindex', '-1'); focusEl.focus(); }
        }
      }, function (p) {
        b.disabled = false;
        toast(problemMessage(p), true);
      });
    });
  }

  /* --------------------------------------------------- notifications */

  /* Dismissing a banner hides it for this admin only (the store keeps one
   * dismissal per user); other admins still see it. */
  function initNotifications() {
    document.addEventListener('click', function (e) {
      var b = e.target.closest && e.target.closest('.dismiss-notification');
      if (!b || b.disabled) return;
      var id = b.getAttribute('data-notification-id');
      var banner = b.closest('.banner');
      b.disabled = true;
      api('POST', '/api/workspaces/' + encodeURIComponent(ws) + '/notifications/' + encodeURIComponent(id) + '/dismissal')
        .then(function () {
          var section = banner && banner.parentNode;
          if (banner) banner.remove();
          if (section && !$('.banner', section)) section.remove();
          toast('Notification dismissed.');
          var focus = $('#generate-key') || $('#main');
          if (focus && focus.focus) focus.focus();
        }, function (p) {
          b.disabled = false;
          toast(problemMessage(p), true);
        });
    });
  }

  /* ------------------------------------------------------------ boot */

  initLogin();
  initLogout();
  initGenerate();
  initRevoke();
  initRotate();
  initAllowedIps();
  initHooks();
  initNotifications();
  initAudit();
  initUsage();
  setInterval(refreshTimes, 30000);
})();
