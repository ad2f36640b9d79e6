#!/usr/bin/env node
import '../dist/polyfill.js'
import { main } from '../dist/main.js'
import { mayExitAtOnce } from '../dist/one-shot.js'

process.exitCode = await main(process.argv.slice(2))
if (mayExitAtOnce()) process.exit()
