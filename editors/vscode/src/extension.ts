// The Pol extension: starts `polc lsp` as a language server over stdio and keeps
// it in step with the `pol.*` settings.

import * as path from 'path';
import * as vscode from 'vscode';
import {
  Executable,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';

const SECTION = 'pol';

let client: LanguageClient | undefined;
let outputChannel: vscode.OutputChannel | undefined;
let traceChannel: vscode.OutputChannel | undefined;
let polWatcher: vscode.FileSystemWatcher | undefined;

/** The settings that the server reads, as sent in initializationOptions. */
interface ServerSettings {
  usersFile: string;
}

/** Resolves `~` and workspace-relative paths; leaves bare command names (`polc`) alone. */
function resolvePath(value: string): string {
  let p = value.trim();
  if (p === '') {
    return p;
  }
  if (p === '~' || p.startsWith('~/')) {
    p = path.join(process.env.HOME ?? process.env.USERPROFILE ?? '', p.slice(1));
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  const looksLikePath = p.includes('/') || p.includes('\\');
  if (looksLikePath && !path.isAbsolute(p) && folder && folder.uri.scheme === 'file') {
    p = path.join(folder.uri.fsPath, p);
  }
  return p;
}

function serverCommand(): string {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>('path', 'polc');
  return resolvePath(configured || 'polc') || 'polc';
}

function serverSettings(): ServerSettings {
  const usersFile = vscode.workspace.getConfiguration(SECTION).get<string>('usersFile', '');
  return { usersFile: resolvePath(usersFile ?? '') };
}

function createClient(): LanguageClient {
  const command = serverCommand();
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file'
    ? vscode.workspace.workspaceFolders[0].uri.fsPath
    : undefined;
  const run: Executable = {
    command,
    args: ['lsp'],
    transport: TransportKind.stdio,
    options: cwd ? { cwd } : undefined,
  };
  const serverOptions: ServerOptions = { run, debug: run };

  outputChannel ??= vscode.window.createOutputChannel('Pol Language Server');
  traceChannel ??= vscode.window.createOutputChannel('Pol Language Server Trace');

  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'pol' }],
    initializationOptions: serverSettings(),
    outputChannel,
    traceOutputChannel: traceChannel,
    synchronize: {
      // Tell the server when .pol files of the bundle change on disk (not only open ones).
      fileEvents: polWatcher,
    },
  };

  // The id `pol` makes vscode-languageclient honour the `pol.trace.server` setting.
  return new LanguageClient('pol', 'Pol Language Server', serverOptions, clientOptions);
}

async function startClient(): Promise<void> {
  client = createClient();
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const choice = await vscode.window.showErrorMessage(
      `Pol: could not start the language server with \`${serverCommand()} lsp\`: ${message}. ` +
        'Install polc or set "pol.path" to the polc binary.',
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'pol.path');
    }
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop();
    } catch {
      // The server may already be gone; nothing more to do.
    }
    await c.dispose();
  }
}

async function restartClient(): Promise<void> {
  await stopClient();
  await startClient();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  polWatcher = vscode.workspace.createFileSystemWatcher('**/*.pol');
  context.subscriptions.push(polWatcher);
  context.subscriptions.push(
    vscode.commands.registerCommand('pol.restartServer', async () => {
      await restartClient();
      vscode.window.setStatusBarMessage('Pol: language server restarted', 3000);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!client) {
        return;
      }
      if (event.affectsConfiguration('pol.path')) {
        // A different binary needs a new server process.
        await restartClient();
      } else if (event.affectsConfiguration('pol.usersFile')) {
        await client.sendNotification('workspace/didChangeConfiguration', {
          settings: { pol: serverSettings() },
        });
      }
    }),
  );

  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
  outputChannel?.dispose();
  outputChannel = undefined;
  traceChannel?.dispose();
  traceChannel = undefined;
  polWatcher = undefined; // disposed with context.subscriptions
}
