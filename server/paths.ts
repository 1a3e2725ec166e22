// Locations inside the installed package, resolved from the compiled file (dist/server/paths.js).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const migrationsDir = path.join(packageRoot, 'migrations');
export const dashboardStaticDir = path.join(packageRoot, 'dashboard');
export const dashboardBuildDir = path.join(packageRoot, 'dist', 'dashboard-build', 'dashboard');
export const chartJsFile = path.join(packageRoot, 'node_modules', 'chart.js', 'dist', 'chart.umd.js');
