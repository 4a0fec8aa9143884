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

  // ── Asking before a destructive action: a dialog in the page, not the browser's confirm() ──
  // hx-confirm="…" (htmx) and <form data-confirm="…"> (plain forms) both come here. The button
  // names the action (data-confirm-button, else the question's first word when it is a verb we
  // know); Cancel has the focus, so Enter alone never deletes anything.
  const VERBS = ['Delete', 'Revoke', 'Remove', 'Leave', 'Reset', 'Disable', 'Rotate', 'Email', 'Make'];
  function confirmLabel(question, element) {
    const named = element?.closest?.('[data-confirm-button]')?.getAttribute('data-confirm-button');
    if (named) return named;
    const first = question.split(/\s/, 1)[0];
    return VERBS.includes(first) ? first : 'Continue';
  }
  function ask(question, element) {
    return new Promise((resolve) => {
      const dialog = document.createElement('dialog');
      dialog.className = 'confirm-dialog';
      dialog.setAttribute('aria-labelledby', 'confirm-question');
      const text = document.createElement('p');
      text.id = 'confirm-question';
      text.textContent = question;
      const buttons = document.createElement('form');
      buttons.method = 'dialog';
      buttons.className = 'confirm-buttons';
      const cancel = Object.assign(document.createElement('button'), { type: 'submit', value: 'cancel', className: 'btn btn-secondary', textContent: 'Cancel' });
      const ok = Object.assign(document.createElement('button'), { type: 'submit', value: 'ok', className: 'btn btn-destructive', textContent: confirmLabel(question, element) });
      buttons.append(cancel, ok);
      dialog.append(text, buttons);
      document.body.append(dialog);
      dialog.addEventListener('close', () => {
        dialog.remove();
        resolve(dialog.returnValue === 'ok');
      });
      dialog.showModal();
      cancel.focus();
    });
  }
  document.addEventListener('htmx:confirm', (event) => {
    const question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    ask(question, event.detail.elt).then((ok) => ok && event.detail.issueRequest(true));
  });
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
    event.preventDefault();
    const submitter = event.submitter;
    ask(form.dataset.confirm, submitter ?? form).then((ok) => {
      if (!ok) return;
      form.dataset.confirmed = 'yes';
      form.requestSubmit(submitter);
      delete form.dataset.confirmed;
    });
  });

  // ── Tables on narrow screens become stacked rows (admin.css): each cell names its column ──
  // from the table's header, unless the template gave it a data-label already.
  function labelCells(root) {
    const tables = new Set(root.querySelectorAll ? root.querySelectorAll('table.table') : []);
    const own = root.closest?.('table.table');
    if (own) tables.add(own);
    for (const table of tables) {
      const names = [];
      for (const th of table.querySelectorAll('thead tr:first-child > th')) {
        for (let i = 0; i < th.colSpan; i++) names.push(th.textContent.trim().replace(/\s+/g, ' '));
      }
      for (const row of table.querySelectorAll('tbody tr')) {
        let column = 0;
        for (const cell of row.children) {
          if (cell.colSpan === 1 && !cell.hasAttribute('data-label')) cell.setAttribute('data-label', names[column] ?? '');
          column += cell.colSpan;
        }
      }
    }
  }

  // ── The menu on narrow screens, and the colour scheme (public/theme.js applies it early) ──
  function bindMenu() {
    const toggle = document.querySelector('.menu-toggle');
    const menu = toggle && document.getElementById(toggle.getAttribute('aria-controls'));
    if (!menu) return;
    toggle.hidden = false;
    const show = (open) => {
      menu.classList.toggle('open', open);
      toggle.setAttribute('aria-expanded', String(open));
    };
    toggle.addEventListener('click', () => show(!menu.classList.contains('open')));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && menu.classList.contains('open')) {
        show(false);
        toggle.focus();
      }
    });
  }
  function bindThemeSwitch() {
    const choice = document.querySelector('[data-theme-switch]');
    if (!choice) return;
    choice.hidden = false;
    const current = document.documentElement.dataset.theme ?? 'system';
    const radio = choice.querySelector(`input[value="${current}"]`);
    if (radio) radio.checked = true;
    choice.addEventListener('change', (event) => {
      const value = event.target.value;
      try {
        if (value === 'system') localStorage.removeItem('linkqr-theme');
        else localStorage.setItem('linkqr-theme', value);
      } catch {
        // Not remembered, but this page still switches.
      }
      if (value === 'system') delete document.documentElement.dataset.theme;
      else document.documentElement.dataset.theme = value;
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    enhance(document);
    labelCells(document);
    bindMenu();
    bindThemeSwitch();
  });
  document.addEventListener('htmx:load', (event) => {
    enhance(event.target);
    labelCells(event.target);
  });
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

// ===== Links page: bulk actions (views/partials/admin/links/table.eta and row.eta; src/http/admin/links-bulk.routes.ts) =====
// The row checkboxes belong to the form #links-bulk by form="links-bulk". Here: "select all on this page", the bar
// that shows while links are ticked ("N selected", a button per action; the select of actions is for browsers
// without JavaScript), the delete question with the count, Enter in the tag field adds the tag, a row redrawn
// alone (Disable, the edit dialog) stays ticked, and the route's 404 notice (none of the links is here any more)
// is shown like its other answers.
(() => {
  'use strict';
  const FORM = 'links-bulk';
  const formOf = () => document.getElementById(FORM);
  const boxes = () => [...document.querySelectorAll(`input[type=checkbox][name=ids][form=${FORM}]`)];
  const isRowBox = (el) => el instanceof HTMLInputElement && el.name === 'ids' && el.getAttribute('form') === FORM;
  const linksCount = (n) => (n === 1 ? '1 link' : `${n} links`);

  function update() {
    const form = formOf();
    if (!form) return;
    const all = boxes();
    const ticked = all.filter((b) => b.checked).length;
    form.hidden = ticked === 0;
    const count = form.querySelector('[data-bulk-count]');
    if (count) count.textContent = `${ticked} selected`;
    const question = ticked === 1 ? 'Its short URL stops working and its click history is removed.' : 'Their short URLs stop working and their click history is removed.';
    form.querySelector('[data-bulk-delete]')?.setAttribute('hx-confirm', `Delete ${linksCount(ticked)}? ${question}`);
    const selectAll = document.querySelector('[data-bulk-all]');
    if (selectAll) {
      selectAll.checked = ticked > 0 && ticked === all.length;
      selectAll.indeterminate = ticked > 0 && ticked < all.length;
    }
  }

  function enhance() {
    const form = formOf();
    if (!form) return;
    for (const el of document.querySelectorAll('#links-table [data-bulk-js][hidden]')) el.hidden = false;
    // Each button sends its action: the select would send a second one.
    const select = form.querySelector('[data-bulk-select]');
    if (select) select.disabled = true;
    update();
  }

  document.addEventListener('change', (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.matches('[data-bulk-all]')) for (const box of boxes()) box.checked = target.checked;
    else if (!isRowBox(target)) return;
    const wasHidden = formOf()?.hidden;
    update();
    // A new selection starts a new action: the last one's notice has been read.
    if (wasHidden && formOf()?.hidden === false) document.getElementById('links-bulk-notice')?.replaceChildren();
  });

  document.addEventListener('click', (event) => {
    const clear = event.target instanceof Element ? event.target.closest('[data-bulk-clear]') : null;
    if (!clear) return;
    for (const box of boxes()) box.checked = false;
    update();
    document.querySelector('[data-bulk-all]')?.focus();
  });

  document.addEventListener('keydown', (event) => {
    const target = event.target;
    if (event.key !== 'Enter' || !(target instanceof HTMLInputElement) || !target.matches('[data-bulk-tag]')) return;
    event.preventDefault();
    formOf()?.querySelector('[data-bulk-add-tag]')?.click();
  });

  // A row swapped on its own comes back unticked: remember which were ticked.
  const stillTicked = new Set();
  const rememberTicked = (event) => {
    const row = event.detail?.target;
    if (row instanceof Element && row.matches('tr.link-row') && row.querySelector('input[name=ids]:checked')) stillTicked.add(row.id);
  };
  document.addEventListener('htmx:beforeSwap', rememberTicked);
  document.addEventListener('htmx:oobBeforeSwap', rememberTicked);

  document.addEventListener('htmx:beforeSwap', (event) => {
    const detail = event.detail;
    if (detail?.xhr?.status === 404 && detail.elt instanceof Element && detail.elt.closest(`#${FORM}`)) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener('DOMContentLoaded', enhance);
  document.addEventListener('htmx:load', (event) => {
    const root = event.target;
    if (root instanceof Element && root.matches('tr.link-row') && stillTicked.delete(root.id)) {
      const box = root.querySelector('input[name=ids]');
      if (box) box.checked = true;
    }
    enhance();
  });
})();

// ===== QR logos: upload (views/partials/admin/qr-logo/form.eta) =====
// The chosen file is sent as the request body itself, as the API takes it (the server parses no
// multipart), with the session's CSRF token in X-CSRF-Token. Saved: the page reloads, its QR code
// now with the logo (and a flash saying so). Refused: the server answers the block again with the
// error beside the field, swapped in here. Without JavaScript the form stays hidden.
(() => {
  'use strict';
  const MAX_BYTES = 64 * 1024;
  const reveal = (root) => {
    if (root instanceof Element || root instanceof Document) for (const form of root.querySelectorAll('form[data-logo-upload][hidden]')) form.hidden = false;
  };

  function showError(form, message) {
    const input = form.querySelector('input[type=file]');
    const field = input.closest('.field');
    let error = field.querySelector('.error');
    if (!error) {
      error = document.createElement('p');
      error.className = 'error';
      error.id = `${input.id}-error`;
      field.append(error);
      input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') ?? ''} ${error.id}`.trim());
    }
    error.textContent = message;
    field.classList.add('has-error');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-logo-upload')) return;
    event.preventDefault();
    const file = form.querySelector('input[type=file]')?.files?.[0];
    if (!file) return showError(form, 'Choose a PNG or SVG file first.');
    if (file.size > MAX_BYTES) return showError(form, `The file must be at most 64 KB (it is ${(file.size / 1024).toFixed(1)} KB).`);
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': file.type || 'application/octet-stream', 'x-csrf-token': form.querySelector('input[name=_csrf]')?.value ?? '' },
        body: file,
      });
      if (res.ok) return window.location.reload();
      const block = form.closest('.qr-logo');
      if (res.status === 422 && block) {
        const holder = document.createElement('div');
        holder.innerHTML = await res.text();
        const fresh = holder.querySelector('.qr-logo');
        if (fresh) {
          block.replaceWith(fresh);
          reveal(fresh);
          fresh.querySelector('input[type=file]')?.focus();
          return;
        }
      }
      showError(form, `The upload failed (HTTP ${res.status}). Reload the page and try again.`);
    } catch {
      showError(form, 'The upload failed: the server could not be reached. Try again.');
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.addEventListener('DOMContentLoaded', () => reveal(document));
  document.addEventListener('htmx:load', (event) => reveal(event.target));
})();

// Import links: a chosen file is read into the form's text box (the form posts text, so it also
// works without JavaScript by pasting). The Links page's "Export CSV" follows the search and filters.
(() => {
  document.addEventListener('DOMContentLoaded', () => {
    const holder = document.querySelector('[data-import-file]');
    const input = holder?.querySelector('input[type=file]');
    const box = document.getElementById('import-data');
    if (holder && input && box) {
      holder.hidden = false;
      input.addEventListener('change', async () => {
        const file = input.files?.[0];
        if (!file) return;
        box.value = await file.text();
      });
    }
  });
  const followFilters = () => {
    const link = document.getElementById('links-export');
    if (!link) return;
    const params = new URLSearchParams(window.location.search);
    params.delete('after');
    const query = params.toString();
    link.setAttribute('href', `/admin/links/export${query ? `?${query}` : ''}`);
  };
  document.addEventListener('htmx:replacedInHistory', followFilters);
  document.addEventListener('htmx:pushedIntoHistory', followFilters);
})();
