// A real SMTP server (the `smtp-server` package) inside the test process: it receives what
// Taskman sends over SMTP, parses each message with mailparser, and can be told to stall or refuse.
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** RCPT TO addresses of the envelope. */
  to: string[];
  from: string;
  parsed: ParsedMail;
  /** The raw message, as received. */
  raw: string;
}

export interface SmtpBehaviour {
  /** Wait this long before answering MAIL FROM (a slow server: the sender is mid-job meanwhile). */
  stallMs?: number;
  /** Refuse MAIL FROM with this SMTP code (e.g. 451 temporary, 550 permanent). */
  refuseWith?: number;
}

export interface TestSmtpServer {
  url: string;
  port: number;
  received: ReceivedMail[];
  /** Called when a sender starts a message (MAIL FROM), before any stall. */
  onMailFrom: ((count: number) => void) | undefined;
  behaviour: SmtpBehaviour;
  /** Resolves once `n` messages have arrived (rejects after timeoutMs, listing what did). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let mailFroms = 0;
  const stalled = new Map<string, NodeJS.Timeout>();
  const state: TestSmtpServer = {
    url: '',
    port: 0,
    received,
    onMailFrom: undefined,
    behaviour: {},
    waitFor(n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(received);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `expected ${n} messages within ${timeoutMs} ms, got ${received.length}: ${received.map((m) => m.parsed.subject).join(' | ')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => {
      for (const timer of stalled.values()) clearTimeout(timer);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onMailFrom(_address, session, callback) {
      mailFroms++;
      state.onMailFrom?.(mailFroms);
      const { stallMs, refuseWith } = state.behaviour;
      const answer = () => {
        stalled.delete(session.id);
        if (refuseWith) {
          const err = new Error('Refused by the test server') as Error & { responseCode: number };
          err.responseCode = refuseWith;
          callback(err);
        } else callback();
      };
      if (stallMs) stalled.set(session.id, setTimeout(answer, stallMs));
      else answer();
    },
    // A sender that went away mid-stall (a killed worker) gets no late answer on a closed connection.
    onClose(session) {
      clearTimeout(stalled.get(session.id));
      stalled.delete(session.id);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          parsed: await simpleParser(raw),
          raw,
        });
        for (const w of [...waiters]) w();
        callback();
      });
    },
  });
  // A sender killed mid-transaction (the worker tests do it) resets its connection: smtp-server
  // reports that as an 'error' event, which without a listener would crash the test process.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  state.port = port;
  state.url = `smtp://127.0.0.1:${port}`;
  return state;
}
