import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/common/errors.js';
import { SERVICE_NODE_FLAGS } from '../harness/cli-process.js';
import { tempDir } from './helpers/cli.js';

const unitPath = fileURLToPath(new URL('../examples/sse-sink@.service', import.meta.url));
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('examples/sse-sink@.service', () => {
  it('does not restart on the exit codes that mean "a person must look"', () => {
    const line = readFileSync(unitPath, 'utf8').match(/^RestartPreventExitStatus=(.*)$/m)?.[1];
    expect(line?.split(/\s+/).map(Number)).toEqual([ExitCode.usage, ExitCode.upstreamStop, ExitCode.cursorExpired, ExitCode.streamBusy]);
  });

  it('passes systemd-analyze verify without a warning', () => {
    // On every machine of this project's kind (Debian's systemd package): fail, never skip, without it.
    expect(hasSystemdAnalyze, 'systemd-analyze is missing: install Debian\'s systemd package').toBe(true);
    const instance = join(tempDir(), 'sse-sink@tenant.service');
    copyFileSync(unitPath, instance);
    const result = spawnSync('systemd-analyze', ['verify', instance], { encoding: 'utf8' });
    const warnings = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.includes('sse-sink@tenant.service'));
    expect(warnings).toEqual([]);
    expect(result.status).toBe(0);
  });
});

describe('how the recipes start node', () => {
  const recipes = ['../examples/sse-sink@.service', '../examples/crontab', '../README.md'];

  it.each(recipes)('%s starts the CLI with the flags the fault harness and the soak use', (recipe) => {
    const text = readFileSync(fileURLToPath(new URL(recipe, import.meta.url)), 'utf8');
    const starts = [...text.matchAll(/\bnode((?: --[a-z-]+(?:=\S+)?)*) \S*dist\/src\/cli\/main\.js/g)];
    expect(starts.length).toBeGreaterThan(0);
    for (const [start, flags] of starts) expect(flags.trim().split(' '), start).toEqual(SERVICE_NODE_FLAGS);
  });

  it('are the flags the benchmarks run with', () => {
    const scripts = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')).scripts as Record<string, string>;
    for (const flag of SERVICE_NODE_FLAGS) expect(scripts.bench).toContain(` ${flag} `);
  });

  it('are flags this node accepts', () => {
    const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    expect(execFileSync(process.execPath, [...SERVICE_NODE_FLAGS, cli, '--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('examples/crontab', () => {
  it('uses only flags the CLI accepts', () => {
    const crontab = readFileSync(fileURLToPath(new URL('../examples/crontab', import.meta.url)), 'utf8');
    const commands = [...crontab.matchAll(/main\.js (\w+)( .*?)(?:>|$)/gm)];
    expect(commands.length).toBeGreaterThanOrEqual(3);
    const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    for (const [, command, rest] of commands) {
      const flags = [...rest.matchAll(/--[a-z-]+/g)].map(([flag]) => flag);
      const help = execFileSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8' });
      for (const flag of flags) expect(help, `${command} ${flag}`).toContain(flag);
    }
  });
});
