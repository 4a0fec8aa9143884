// LinkQR admin UI: small enhancements on top of server-rendered pages and htmx.
// Loaded as a file (the CSP allows no inline script); every page works without it.
(() => {
  'use strict';
  document.documentElement.classList.add('js');

  /** Shows controls that need JavaScript (rendered `hidden` for browsers without it). */
  function enhance(root) {
    for (const el of root.querySelectorAll('[data-copy][hidden]')) el.hidden = false;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on a LAN address has no clipboard API: fall back to a selection.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    if (!ok) throw new Error('copy refused');
  }

  document.addEventListener('click', async (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const copy = target?.closest('[data-copy]');
    if (copy) {
      const source = document.querySelector(copy.getAttribute('data-copy'));
      const label = copy.querySelector('[data-copy-label]') ?? copy;
      const before = label.textContent;
      try {
        await copyText(source ? ('value' in source ? source.value : source.textContent) : '');
        label.textContent = 'Copied';
      } catch {
        label.textContent = 'Press Ctrl+C';
      }
      setTimeout(() => (label.textContent = before), 1600);
      return;
    }
    const dismiss = target?.closest('[data-dismiss]');
    if (dismiss) dismiss.closest(dismiss.getAttribute('data-dismiss'))?.remove();
  });

  // <form data-confirm="Revoke this key?">: plain forms ask first (htmx has hx-confirm).
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener('DOMContentLoaded', () => enhance(document));
  document.addEventListener('htmx:load', (event) => enhance(event.target));
})();

// ===== Link forms: the UTM builder (views/partials/admin/links/utm.eta) =====
// Its fields and the destination URL field edit one value, the URL: typing in a UTM field sets or
// removes that parameter in the URL (the URL's other parameters, its fragment and their encoding
// stay as they are), and typing in the URL refills the fields.
(() => {
  'use strict';
  const builders = (root) => (root.matches?.('[data-utm-for]') ? [root] : [...root.querySelectorAll('[data-utm-for]')]);
  const urlFieldOf = (builder) => document.getElementById(builder.dataset.utmFor);
  const nameOf = (segment) => new URLSearchParams(segment).keys().next().value ?? '';

  /** The URL split where a query is edited: before `?`, the query's segments, and `#…`. */
  function parts(url) {
    const hashAt = url.indexOf('#');
    const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
    const queryAt = beforeHash.indexOf('?');
    return {
      base: queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt),
      segments: queryAt === -1 ? [] : beforeHash.slice(queryAt + 1).split('&').filter((s) => s !== ''),
      hash: hashAt === -1 ? '' : url.slice(hashAt),
    };
  }

  function showFinal(builder, url) {
    const out = builder.querySelector('[data-utm-final]');
    if (out) out.textContent = url;
  }

  function fromUrl(builder) {
    const url = urlFieldOf(builder)?.value ?? '';
    const params = new URLSearchParams(parts(url).segments.join('&'));
    for (const field of builder.querySelectorAll('[data-utm]')) field.value = params.get(field.dataset.utm) ?? '';
    showFinal(builder, url);
  }

  function toUrl(builder) {
    const input = urlFieldOf(builder);
    if (!input) return;
    const fields = [...builder.querySelectorAll('[data-utm]')];
    const utm = new Set(fields.map((f) => f.dataset.utm));
    const { base, segments, hash } = parts(input.value);
    const kept = segments.filter((s) => !utm.has(nameOf(s)));
    const set = fields.filter((f) => f.value.trim() !== '').map((f) => `${f.dataset.utm}=${encodeURIComponent(f.value.trim())}`);
    const query = [...kept, ...set].join('&');
    input.value = `${base}${query === '' ? '' : `?${query}`}${hash}`;
    showFinal(builder, input.value);
  }

  function enhance(root) {
    for (const builder of builders(root)) {
      builder.hidden = false;
      fromUrl(builder);
    }
  }

  document.addEventListener('input', (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    const builder = target.closest('[data-utm-for]');
    if (builder && target.dataset.utm) return toUrl(builder);
    for (const b of document.querySelectorAll(`[data-utm-for="${target.id}"]`)) fromUrl(b);
  });
  document.addEventListener('DOMContentLoaded', () => enhance(document));
  document.addEventListener('htmx:load', (event) => enhance(event.target));
})();

// ===== Links page (views/pages/admin/links.eta): the edit dialog =====
// A form swapped into <dialog data-dialog> opens it as a modal; the server closes it with the
// HX-Trigger event "close-dialog", and [data-dialog-close] controls (Cancel, ×) close it here.
(() => {
  'use strict';
  document.addEventListener('htmx:afterSwap', (event) => {
    const target = event.detail && event.detail.target;
    const dialog = target instanceof Element ? target.closest('dialog[data-dialog]') : null;
    if (!dialog || dialog.open || !dialog.querySelector('form')) return;
    dialog.showModal();
    dialog.querySelector('[autofocus]')?.focus();
  });
  // The event is dispatched on the element that sent the request, which a swap may already have
  // detached from the dialog: close the open dialogs rather than look for "its" one.
  document.addEventListener('close-dialog', () => {
    for (const dialog of document.querySelectorAll('dialog[data-dialog][open]')) dialog.close();
  });
  document.addEventListener('click', (event) => {
    const control = event.target instanceof Element ? event.target.closest('[data-dialog-close]') : null;
    const dialog = control?.closest('dialog');
    if (!dialog) return;
    event.preventDefault();
    dialog.close();
  });
  // A closed dialog keeps no stale form ("close" does not bubble: listen while it goes down).
  document.addEventListener('close', (event) => {
    const dialog = event.target;
    if (dialog instanceof HTMLDialogElement && dialog.matches('[data-dialog]')) dialog.querySelector('[data-dialog-body]')?.replaceChildren();
  }, true);
})();
