// The colour scheme the person chose (Light, Dark or System in the sidebar), applied before the
// first paint: loaded in <head> without defer, so no page flashes the other scheme. public/admin.css
// reads data-theme; without it the system's scheme applies.
(() => {
  'use strict';
  try {
    const chosen = localStorage.getItem('linkqr-theme');
    if (chosen === 'light' || chosen === 'dark') document.documentElement.dataset.theme = chosen;
  } catch {
    // Storage refused (a privacy setting): the system's scheme.
  }
})();
