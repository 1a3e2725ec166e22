// Locations inside the installed package, resolved from the compiled file (dist/server/paths.js).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const migrationsDir = path.join(packageRoot, 'migrations');
export const dashboardStaticDir = path.join(packageRoot, 'dashboard');
export const dashboardBuildDir = path.join(packageRoot, 'dist', 'dashboard-build', 'dashboard');
/** The dependency-free protocol modules the dashboard imports at run time (served under /protocol). */
export const dashboardProtocolDir = path.join(packageRoot, 'dist', 'dashboard-build', 'protocol');
export const chartJsFile = path.join(packageRoot, 'node_modules', 'chart.js', 'dist', 'chart.umd.js');
