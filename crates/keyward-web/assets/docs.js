/* keyward developer docs: progressive enhancement only (the pages are
 * complete without it). A "Copy" button on every code block, and a filter
 * on the reference page. No inline anything (strict CSP). */
(function () {
  'use strict';

  function fallbackCopy(text) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'sr-only';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return fallbackCopy(text); });
    }
    return Promise.resolve(fallbackCopy(text));
  }

  Array.prototype.forEach.call(document.querySelectorAll('.doc .code-block'), function (block) {
    var code = block.querySelector('pre code');
    if (!code) return;
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'btn btn-secondary btn-xs copy-btn';
    btn.textContent = 'Copy';
    var title = block.querySelector('.code-title');
    btn.setAttribute('aria-label', 'Copy ' + (title ? title.textContent : 'code'));
    btn.addEventListener('click', function () {
      copy(code.textContent).then(function (ok) {
        btn.textContent = ok ? 'Copied' : 'Press Ctrl+C';
        if (!ok) {
          var range = document.createRange();
          range.selectNodeContents(code);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        }
        setTimeout(function () { btn.textContent = 'Copy'; }, 2000);
      });
    });
    block.appendChild(btn);
  });

  /* Reference: operations are h3.ref-op headings; each one's section runs
   * to the next h2/h3. A filter box above them hides non-matching ones. */
  var heads = Array.prototype.slice.call(document.querySelectorAll('.doc h3.ref-op'));
  if (heads.length) {
    var sections = heads.map(function (h) {
      var els = [h];
      var n = h.nextElementSibling;
      while (n && n.tagName !== 'H2' && n.tagName !== 'H3') { els.push(n); n = n.nextElementSibling; }
      var text = els.map(function (e) { return e.textContent; }).join(' ').toLowerCase();
      return { els: els, text: text };
    });
    var box = document.createElement('div');
    box.className = 'ref-filter';
    box.id = 'ref-filter';
    var label = document.createElement('label');
    label.htmlFor = 'ref-filter-input';
    label.textContent = 'Filter operations';
    var input = document.createElement('input');
    input.type = 'text';
    input.id = 'ref-filter-input';
    input.placeholder = 'e.g. transcripts, POST, 422';
    box.appendChild(label);
    box.appendChild(input);
    var first = document.querySelector('.doc h2');
    first.parentNode.insertBefore(box, first);
    input.addEventListener('input', function () {
      var q = input.value.trim().toLowerCase();
      sections.forEach(function (s) {
        var hide = q !== '' && s.text.indexOf(q) < 0;
        s.els.forEach(function (e) { e.classList.toggle('ref-op-hidden', hide); });
      });
    });
  }
})();
