// Command-line form of browser.mjs for drivers in other languages:
//   node lib/sign-in.mjs AUTHORIZE_URL CALLBACK_PREFIX EMAIL PASSWORD
// prints the callback URL (code, state, iss) the browser was sent back to.
import { signIn } from './browser.mjs';

const [url, callbackPrefix, email, password] = process.argv.slice(2);
console.log(await signIn(url, { email, password, callbackPrefix }));
