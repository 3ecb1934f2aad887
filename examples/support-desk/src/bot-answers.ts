/**
 * The demo bot's answers, by CLINC150 intent (the shipped model's labels). Anything else, or a
 * low-confidence guess, goes to a human. Answers may use the visitor's profile.
 */
import type { BotTable, DeskProfile } from '@kefu/core';

function lastOrder(profile: DeskProfile): { id: string; status: string } | undefined {
  const orders = (profile.orders as { orders?: Array<{ id: string; status: string }> } | undefined)?.orders;
  return orders?.[0];
}

export const botAnswers: BotTable = {
  balance: 'You can see your balance under Account → Wallet in the app. Anything else?',
  order_status: ({ profile }) => {
    const o = lastOrder(profile);
    return o ? `Your last order ${o.id} is ${o.status}. Ask for a human if something is wrong with it.` : 'You have no recent orders.';
  },
  order: 'Add items to your cart and check out; orders placed before 3 pm ship the same day.',
  cancel: 'You can cancel an order that has not shipped from Orders → Cancel. Shipped orders can be returned within 30 days.',
  bill_due: 'Your next bill is due on the 1st of the month; you can pay it under Account → Billing.',
  pay_bill: 'Pay your bill under Account → Billing with any saved card.',
  greeting: 'Hello! How can I help you today?',
  goodbye: 'Goodbye, and thanks for shopping with Acme!',
  thank_you: 'You are welcome!',
  what_can_i_ask_you: 'I can help with orders, bills and your balance. Type "human" to talk to a person.',
  are_you_a_bot: 'Yes, I am Acme\'s bot. Type "human" any time to talk to a person.',
  change_user_name: 'You can change your name under Account → Profile.',
  report_lost_card: 'Sorry to hear that! Freeze the card under Account → Cards, then ask for a human to replace it.',
  freeze_account: 'You can freeze your account under Account → Security.',
};

export const cannedReplies = [
  { id: 'hello', title: 'Greeting', body: 'Hi, thanks for waiting! I am looking into this now.' },
  { id: 'refund', title: 'Refund started', body: 'I have started a refund for your last order; you will get an email when it is done.' },
  { id: 'more', title: 'Anything else?', body: 'Is there anything else I can help you with?' },
  { id: 'bye', title: 'Closing', body: 'Thanks for contacting Acme support. Have a great day!' },
];
