// `npm run backup [-- --out FILE]`, `npm run restore -- FILE`, and
// `node --import tsx packages/core/src/backup/backup.cli.ts verify FILE` (decrypts and checks every
// chunk, restores nothing). Every failure is one line on stderr; exit codes: 0 done, 1 failed or
// refused, 64 usage, 78 invalid configuration (as the servers).
import { ConfigError } from '../config';
import { BackupError, createBackup, describeKey, restoreBackup, verifyBackup } from './backup';

const USAGE = [
  'usage: backup.cli.ts backup [--out FILE]',
  '       backup.cli.ts restore FILE',
  '       backup.cli.ts verify FILE',
].join('\n');

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(64);
}

function parse(argv: string[]): { command: string; file?: string; out?: string } {
  const [command, ...rest] = argv;
  if (command === 'backup') {
    let out: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === '--out' && rest[i + 1] !== undefined) out = rest[++i];
      else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
      else usage(`unknown argument: ${arg}`);
    }
    return { command, out };
  }
  if (command === 'restore' || command === 'verify') {
    if (rest.length !== 1 || rest[0]!.startsWith('-')) usage(`${command} needs exactly one backup file`);
    return { command, file: rest[0] };
  }
  usage(command ? `unknown command: ${command}` : undefined);
}

const args = parse(process.argv.slice(2));
const log = (line: string) => console.log(line);

try {
  if (args.command === 'backup') await createBackup({ out: args.out, log });
  else if (args.command === 'restore') {
    await restoreBackup({ file: args.file!, log });
    console.log('Start Taskman on it as usual: it applies any newer migrations at start.');
  } else {
    const header = await verifyBackup({ file: args.file! });
    console.log(
      `${args.file}: intact (${header.kind === 'postgres' ? 'PostgreSQL' : 'embedded'} backup of ${header.createdAt.toISOString()}, encrypted with ${describeKey(header.keySource)})`,
    );
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78);
  }
  const message =
    err instanceof BackupError ? err.message : `${args.command} failed: ${(err as Error).message}`;
  console.error(message.split('\n')[0]);
  process.exit(1);
}
