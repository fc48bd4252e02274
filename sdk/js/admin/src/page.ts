// What a console page is: a title and a render function. Pages are rebuilt
// on navigation; timers they start are stopped through nav.onLeave.

/** Navigation as a page sees it. */
export interface Nav {
  /** The query of the page's hash (#users?id=…). */
  params: URLSearchParams;
  /** Goes to another hash (or re-renders this one), then runs after. */
  go(hash: string, after?: () => void): void;
  /** Registers a function run when the page is left (stops its timers). */
  onLeave(f: () => void): void;
  /** Repeats f every ms while the page is shown (not while a run is pending). */
  every(ms: number, f: () => Promise<void>): void;
}

export interface Page {
  id: string;
  title: string;
  render(root: HTMLElement, nav: Nav): Promise<void>;
}
