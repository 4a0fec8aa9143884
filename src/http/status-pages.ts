import type { Eta } from 'eta';

export interface StatusPages {
  notFound: Buffer;
  gone: Buffer;
  serverError: Buffer;
  /** Any other status, for refusals outside the API (a form body too large, say). */
  render(code: number, title: string, message: string): Buffer;
  /** 503: the database cannot be written right now (a short link with a click limit, an admin change). */
  unavailable: Buffer;
}

/** The small HTML pages of the public routes, rendered once at start. */
export function renderStatusPages(views: Eta): StatusPages {
  const page = (code: number, title: string, message: string) =>
    Buffer.from(views.render('pages/status', { code, title, message }));
  return {
    notFound: page(404, 'Link not found', 'This short link does not exist. Check the address for typos.'),
    gone: page(410, 'Link no longer available', 'This short link has been disabled, has expired, or has reached its click limit.'),
    serverError: page(500, 'Something went wrong', 'The server could not complete the request. Try again in a moment.'),
    render: page,
    unavailable: page(503, 'Temporarily unavailable', 'The server cannot write to its database right now, so this request was not carried out. Try again in a few seconds.'),
  };
}
