// WHATWG "set the last event ID buffer" for every block that has an `id` field, dispatched or not:
// eventsource-parser 3 (the newest line that supports Node 20; 4.x needs Node 22.12) reports an id
// only with an event, and a block without data is no event. This reads the same text the parser
// reads, line by line, and says each block's last id when its blank line comes.
// Lines end in CR LF, LF or CR; the text never ends in a lone CR (FrameReader.feed ends it first).
export class BlockIdTracker {
  /** The current line so far, kept only while it may still be an `id` field. */
  private partial = '';
  private partialIsOther = false;
  private blockId: string | undefined;

  constructor(private readonly onBlockId: (id: string) => void) {}

  scan(text: string): void {
    let from = 0;
    for (;;) {
      const lf = text.indexOf('\n', from);
      const cr = text.indexOf('\r', from);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) {
        this.hold(text.slice(from));
        return;
      }
      this.hold(text.slice(from, end));
      this.endLine();
      from = text[end] === '\r' && text[end + 1] === '\n' ? end + 2 : end + 1;
    }
  }

  /** Forgets a block cut short (an oversize frame the reader skips). */
  reset(): void {
    this.partial = '';
    this.partialIsOther = false;
    this.blockId = undefined;
  }

  private hold(piece: string): void {
    if (piece === '' || this.partialIsOther) return;
    const line = this.partial + piece;
    if (line.startsWith('id:') || 'id:'.startsWith(line)) this.partial = line;
    else {
      this.partial = '';
      this.partialIsOther = true;
    }
  }

  private endLine(): void {
    const { partial, partialIsOther } = this;
    this.partial = '';
    this.partialIsOther = false;
    if (!partialIsOther && partial === '') {
      if (this.blockId !== undefined) this.onBlockId(this.blockId);
      this.blockId = undefined;
      return;
    }
    if (partial !== 'id' && !partial.startsWith('id:')) return;
    const value = partial.startsWith('id: ') ? partial.slice(4) : partial.slice(3);
    if (!value.includes('\0')) this.blockId = value;
  }
}
